"""Lambda's own log lines (text log format) as fields of a platform document.

    START RequestId: 6f3c... Version: $LATEST
    END RequestId: 6f3c...
    REPORT RequestId: 6f3c...\tDuration: 2.35 ms\tBilled Duration: 3 ms\tMemory Size: 1024 MB\t
        Max Memory Used: 80 MB\tInit Duration: 251.07 ms\t[XRAY TraceId: ...\tSegmentId: ...\tSampled: true]
    INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:...
    2026-11-26T07:02:52.123Z 6f3c... Task timed out after 30.03 seconds

Lambda's JSON log format writes the same facts as {"type": "platform.report", "record": {...}}; platform_json
reads those. Keys not listed here are ignored; the document keeps the whole line in `message`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REPORT_KEYS: dict[str, tuple[str, type[float] | type[int] | type[str]]] = {
    "RequestId": ("request_id", str),
    "Duration": ("duration_ms", float),
    "Billed Duration": ("billed_duration_ms", float),
    "Memory Size": ("memory_size_mb", int),
    "Max Memory Used": ("max_memory_used_mb", int),
    "Init Duration": ("init_duration_ms", float),
    "Restore Duration": ("restore_duration_ms", float),
    "Status": ("status", str),
    "Error Type": ("error_type", str),
    "TraceId": ("xray_trace_id", str),
}
_START = re.compile(r"^START RequestId: (?P<request_id>\S+)(?: Version: (?P<version>\S+))?")
_END = re.compile(r"^END RequestId: (?P<request_id>\S+)")
_INIT_START = re.compile(r"^INIT_START Runtime Version: (?P<runtime_version>[^\t\n]+)")
_TIMEOUT = re.compile(r"^\S+ (?P<request_id>\S+) Task timed out after (?P<timeout_s>[0-9.]+) seconds")
_VALUE = re.compile(r"^(?P<number>-?[0-9]+(?:\.[0-9]+)?)(?: \w+)?$")

_JSON_METRICS = {
    "durationMs": ("duration_ms", float),
    "billedDurationMs": ("billed_duration_ms", float),
    "memorySizeMB": ("memory_size_mb", int),
    "maxMemoryUsedMB": ("max_memory_used_mb", int),
    "initDurationMs": ("init_duration_ms", float),
    "restoreDurationMs": ("restore_duration_ms", float),
}


def platform_text(line: str) -> dict[str, Any] | None:
    """The platform fields of a text-format Lambda line, or None when it is not one."""
    if line.startswith("REPORT RequestId: "):
        return _report(line)
    for platform_type, pattern in (("START", _START), ("END", _END), ("INIT_START", _INIT_START)):
        match = pattern.match(line)
        if match:
            return {"platform_type": platform_type, **{k: v for k, v in match.groupdict().items() if v is not None}}
    match = _TIMEOUT.match(line)
    if match:
        return {"platform_type": "TIMEOUT", "request_id": match["request_id"], "timeout_s": float(match["timeout_s"])}
    return None


def _report(line: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"platform_type": "REPORT"}
    for part in re.split(r"[\t\n]+", line):
        key, _, value = part.partition(": ")
        key = key.removeprefix("REPORT ").removeprefix("XRAY ").strip()
        if key in _REPORT_KEYS and value.strip():
            name, kind = _REPORT_KEYS[key]
            fields[name] = _typed(value.strip(), kind)
    if "init_duration_ms" in fields or "restore_duration_ms" in fields:
        fields["cold_start"] = True
    elif "duration_ms" in fields:
        fields["cold_start"] = False
    return {k: v for k, v in fields.items() if v is not None}


def _typed(value: str, kind: type[float] | type[int] | type[str]) -> Any:
    if kind is str:
        return value
    match = _VALUE.match(value)
    if not match:
        return None
    number = float(match["number"])
    return int(number) if kind is int else number


def platform_json(line: Mapping[str, Any]) -> dict[str, Any] | None:
    """The platform fields of a JSON-format Lambda event ({"type": "platform.<x>", "record": {...}}), or None."""
    kind = line.get("type")
    if not isinstance(kind, str) or not kind.startswith("platform."):
        return None
    record = _object(line.get("record"))
    fields: dict[str, Any] = {"platform_type": _JSON_TYPES.get(kind, kind.removeprefix("platform.").upper())}
    if isinstance(record.get("requestId"), str):
        fields["request_id"] = record["requestId"]
    if isinstance(record.get("version"), str):
        fields["version"] = record["version"]
    if isinstance(record.get("runtimeVersion"), str):
        fields["runtime_version"] = record["runtimeVersion"]
    if isinstance(record.get("status"), str):
        fields["status"] = record["status"]
    metrics = _object(record.get("metrics"))
    for key, (name, cast) in _JSON_METRICS.items():
        value = metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            fields[name] = cast(value)
    if fields["platform_type"] == "REPORT":
        fields["cold_start"] = "init_duration_ms" in fields or "restore_duration_ms" in fields
    return fields


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


_JSON_TYPES = {
    "platform.start": "START",
    "platform.runtimeDone": "END",
    "platform.report": "REPORT",
    "platform.initStart": "INIT_START",
}
