"""From CloudWatch log events to the documents the shipper indexes, one per line; no line is dropped.

The rule (index_fields lists each family's fields):
- a JSON line of type "prediction" that passes the schema check (log_schema) -> predictions;
- a JSON line of type "prediction" that fails it -> app_logs, record_kind "invalid_prediction", `reason` says why;
- a Lambda platform line (START, END, REPORT, INIT_START, timeout; or a JSON platform.* event) -> platform;
- a JSON line of type "error" -> app_logs, record_kind "error" (errors stay out of the predictions indices so
  that counting documents there counts predictions);
- any other JSON object -> app_logs, record_kind "event";
- anything else (plain text, a traceback, JSON that is not an object) -> app_logs, record_kind "raw".

A log event usually holds one line. One whose lines are all JSON objects becomes one document per line
(`<event id>-<n>`); any other multi-line event (a traceback) stays one document. The document _id derives from
the CloudWatch event id only, so a re-delivered batch overwrites nothing and duplicates nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ..contract.index_fields import prediction_json_types
from ..contract.json_logging import utc_timestamp
from ..contract.log_line import ERROR_TYPE, LOG_SCHEMA_VERSION, PREDICTION_FIELDS, PREDICTION_TYPE
from .cloudwatch import LogEvent, LogsPayload
from .lambda_platform import platform_json, platform_text

PREDICTIONS: Final = "predictions"
PLATFORM: Final = "platform"
APP_LOGS: Final = "app_logs"
FAMILIES: Final = (PREDICTIONS, PLATFORM, APP_LOGS)

_APP_LOG_STRINGS: Final = ("type", "level", "code", "request_id", "message", "traceback")


@dataclass(frozen=True)
class Record:
    """One document to index: its family, _id, time (which picks the daily index) and source."""

    family: str
    doc_id: str
    timestamp: datetime
    document: dict[str, Any]


def records_of(payload: LogsPayload, ingested_at: datetime) -> list[Record]:
    """Every line of every log event of the payload as a Record (none for a CONTROL_MESSAGE)."""
    if payload.is_control:
        return []
    ingested = utc_timestamp(ingested_at)
    records = []
    for event in payload.log_events:
        lines = list(split_message(event.message))
        for n, (line, parsed) in enumerate(lines):
            doc_id = event.id if len(lines) == 1 else f"{event.id}-{n}"
            family, timestamp, fields = classify(line, parsed, event_time(event))
            common = {
                "@timestamp": utc_timestamp(timestamp),
                "ingested_at": ingested,
                "log_group": payload.log_group,
                "log_stream": payload.log_stream,
                "event_id": event.id,
            }
            records.append(Record(family, doc_id, timestamp, clean_value({**fields, **common})))
    return records


def split_message(message: str) -> Iterator[tuple[str, Any]]:
    """The lines to index with their parsed JSON (None when not JSON): one per line only if all are JSON objects."""
    text = message.rstrip("\r\n")
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > 1:
        parsed = [json_object(line) for line in lines]
        if all(p is not None for p in parsed):
            yield from zip(lines, parsed, strict=True)
            return
    yield text, json_object(text)


def json_object(line: str) -> dict[str, Any] | None:
    """The line parsed as a JSON object, or None (not JSON, or JSON that is not an object)."""
    stripped = line.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def event_time(event: LogEvent) -> datetime:
    """When CloudWatch received the event."""
    return datetime.fromtimestamp(event.timestamp_ms / 1000, UTC)


def classify(line: str, parsed: dict[str, Any] | None, received: datetime) -> tuple[str, datetime, dict[str, Any]]:
    """(family, time, fields) of one line; see the module docstring for the rule."""
    if parsed is None:
        platform = platform_text(line)
        if platform is not None:
            return PLATFORM, received, {**platform, "message": line}
        return APP_LOGS, received, {"record_kind": "raw", "message": line}
    timestamp = parse_timestamp(parsed.get("timestamp", parsed.get("time"))) or received
    kind = parsed.get("type")
    if kind == PREDICTION_TYPE:
        problems = prediction_problems(parsed)
        if not problems:
            return PREDICTIONS, timestamp, dict(parsed)
        return APP_LOGS, timestamp, {**_app_log("invalid_prediction", parsed), "reason": "; ".join(problems)}
    platform = platform_json(parsed)
    if platform is not None:
        return PLATFORM, timestamp, {**platform, "message": line}
    return APP_LOGS, timestamp, _app_log("error" if kind == ERROR_TYPE else "event", parsed)


def _app_log(record_kind: str, parsed: Mapping[str, Any]) -> dict[str, Any]:
    strings = {k: parsed[k] for k in _APP_LOG_STRINGS if isinstance(parsed.get(k), str)}
    return {"record_kind": record_kind, **strings, "line": dict(parsed)}


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 string with a time zone as UTC, else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def prediction_problems(line: Mapping[str, Any]) -> list[str]:
    """What makes this line not a valid prediction line of log_schema (empty when it is one)."""
    types = prediction_json_types()
    problems = [f"missing field {name!r}" for name in PREDICTION_FIELDS if name not in line]
    problems += [f"unknown field {name!r}" for name in line if name not in types]
    for name, value in line.items():
        if name in types and not _is_json_type(value, types[name]):
            problems.append(f"{name!r} must be {types[name]}, got {json.dumps(value)[:80]}")
    if "log_schema" in line and line["log_schema"] != LOG_SCHEMA_VERSION:
        problems.append(f"log_schema {line['log_schema']!r} is not this shipper's {LOG_SCHEMA_VERSION}")
    if isinstance(line.get("timestamp"), str) and parse_timestamp(line["timestamp"]) is None:
        problems.append(f"timestamp {line['timestamp'][:40]!r} is not ISO 8601 with a time zone")
    return problems


def _is_json_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)


def clean_value(value: Any) -> Any:
    """What strict JSON and UTF-8 cannot carry, made so they can, recursively: lone UTF-16 surrogates (a JSON
    escape can hold one) become U+FFFD, NaN and infinities (Python's json reads them) become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    return value
