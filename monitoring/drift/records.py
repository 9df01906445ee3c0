"""Prediction records as the report reads them: the fields of a prediction log line it needs, checked.

The line's schema is chalice_app/chalicelib/contract/log_line.py (the runtime owns it); a log line and an Elasticsearch
prediction document (the same fields plus the shipper's) parse alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice_app.chalicelib.contract.log_line import LOG_SCHEMA_VERSION, PREDICTION_TYPE

RECORD_FIELDS = (
    "log_schema",
    "type",
    "timestamp",
    "model_version",
    "label",
    "p_acceptable",
    "latency_ms",
    "n_chars",
    "n_tokens",
    "truncated",
    "unknown_token_rate",
)
"""The fields of a prediction line that the report reads (a subset of log_schema.PREDICTION_FIELDS)."""


class RecordError(ValueError):
    """A prediction line or document lacks a field the report needs, or holds a value of the wrong kind."""


@dataclass(frozen=True)
class PredictionRecord:
    timestamp: datetime
    model_version: str
    label: str
    p_acceptable: float
    latency_ms: float
    n_chars: int
    n_tokens: int
    truncated: bool
    unknown_token_rate: float


def is_prediction(obj: Mapping[str, Any]) -> bool:
    """Whether a JSON object claims to be a prediction line (it may still fail parse_record)."""
    return obj.get("type") == PREDICTION_TYPE


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp (the log's `...Z` form or with an offset) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise RecordError(f"timestamp must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise RecordError(f"timestamp {value!r} is not ISO 8601") from err
    if moment.tzinfo is None:
        raise RecordError(f"timestamp {value!r} has no time zone (the log writes UTC with a Z)")
    return moment.astimezone(UTC)


def parse_record(obj: Mapping[str, Any]) -> PredictionRecord:
    """The checked record of one prediction line; RecordError names the first field that is wrong."""
    if obj.get("log_schema") != LOG_SCHEMA_VERSION:
        raise RecordError(f"log_schema is {obj.get('log_schema')!r}, this report reads {LOG_SCHEMA_VERSION}")
    label = obj.get("label")
    if not isinstance(label, str) or not label:  # which names are known is the bundle's (manifest labels)
        raise RecordError(f"label must be a non-empty string, got {label!r}")
    model_version = obj.get("model_version")
    if not isinstance(model_version, str) or not model_version:
        raise RecordError(f"model_version must be a non-empty string, got {model_version!r}")
    truncated = obj.get("truncated")
    if not isinstance(truncated, bool):
        raise RecordError(f"truncated must be true or false, got {truncated!r}")
    return PredictionRecord(
        timestamp=parse_timestamp(obj.get("timestamp")),
        model_version=model_version,
        label=str(label),
        p_acceptable=_number(obj, "p_acceptable", 0.0, 1.0),
        latency_ms=_number(obj, "latency_ms", 0.0, None),
        n_chars=_count(obj, "n_chars"),
        n_tokens=_count(obj, "n_tokens"),
        truncated=truncated,
        unknown_token_rate=_number(obj, "unknown_token_rate", 0.0, 1.0),
    )


def _number(obj: Mapping[str, Any], key: str, low: float, high: float | None) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN != NaN
        raise RecordError(f"{key} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise RecordError(f"{key} must be {span}, got {value!r}")
    return float(value)


def _count(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError(f"{key} must be a non-negative integer, got {value!r}")
    return value
