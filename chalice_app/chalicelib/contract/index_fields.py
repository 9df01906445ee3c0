"""The fields of the documents the log shipper writes, with their Elasticsearch types.

Three index families (daily indices `<prefix>-YYYY.MM.DD`, prefixes in shipper_settings):
- predictions: one document per prediction line, PREDICTION_FIELDS (+ OPTIONAL_PREDICTION_FIELDS) of log_schema
  plus the shipper's SHIPPER_FIELDS;
- platform: Lambda's own lines (START, END, REPORT, INIT_START, timeouts), PLATFORM_FIELDS;
- app-logs: every other line of the function: error lines, other diagnostic JSON lines, prediction lines that fail
  the schema check, and non-JSON text; APP_LOG_FIELDS, `record_kind` tells which.

monitoring/elastic/index_templates.py turns these tables into the index templates (with the mapping details only
Elasticsearch needs); the shipper builds documents with exactly these keys, so the templates can be strict.
"""

from __future__ import annotations

from typing import Final

from .log_line import OPTIONAL_PREDICTION_FIELDS, PREDICTION_FIELDS

JSON_TYPES: Final = ("integer", "number", "string", "boolean")

SHIPPER_FIELDS: Final[dict[str, str]] = {
    "@timestamp": "date",  # the line's own timestamp, else the CloudWatch event's
    "ingested_at": "date",  # when the shipper first wrote the document
    "log_group": "keyword",
    "log_stream": "keyword",
    "event_id": "keyword",  # CloudWatch's log event id (the document _id derives from it)
}
"""Added by the shipper to every document of every family."""

RECORD_KINDS: Final = ("error", "event", "invalid_prediction", "raw", "unindexable")
"""record_kind of app-logs documents: an "error" line, another JSON line, a prediction line the schema check
refused (reason says why), a line that is not a JSON object, a document Elasticsearch refused for good (its
mapping error in `reason`, the document itself in `line`)."""

PLATFORM_TYPES: Final = ("START", "END", "REPORT", "INIT_START", "TIMEOUT")
"""platform_type of text-format lines; other platform.* events of the JSON log format keep their name, upper-cased."""

PLATFORM_FIELDS: Final[dict[str, str]] = {
    **SHIPPER_FIELDS,
    "platform_type": "keyword",  # one of PLATFORM_TYPES
    "request_id": "keyword",
    "version": "keyword",  # START: the function version ($LATEST, 3, ...)
    "runtime_version": "keyword",  # INIT_START
    "duration_ms": "float",
    "billed_duration_ms": "float",
    "memory_size_mb": "integer",
    "max_memory_used_mb": "integer",
    "init_duration_ms": "float",
    "restore_duration_ms": "float",
    "cold_start": "boolean",  # REPORT with an Init Duration
    "status": "keyword",  # REPORT's Status (e.g. timeout), when Lambda writes one
    "error_type": "keyword",
    "timeout_s": "float",  # TIMEOUT: "Task timed out after N seconds"
    "xray_trace_id": "keyword",
    "message": "text",  # the whole line as Lambda wrote it
}

APP_LOG_FIELDS: Final[dict[str, str]] = {
    **SHIPPER_FIELDS,
    "record_kind": "keyword",  # one of RECORD_KINDS
    "type": "keyword",  # the JSON line's "type"
    "level": "keyword",
    "code": "keyword",
    "request_id": "keyword",
    "message": "text",  # the JSON line's message, or the whole non-JSON text
    "traceback": "text",
    "reason": "text",  # invalid_prediction: what the schema check found
    "line": "object",  # the JSON line as it came, kept in _source and not indexed
}


def declared_type(description: str) -> str:
    """The JSON type a log_schema description starts with ("integer: ..." -> "integer")."""
    kind = description.split(":", 1)[0].strip()
    if kind not in JSON_TYPES:
        raise ValueError(f"log_schema description must start with one of {JSON_TYPES}, got {description!r}")
    return kind


def prediction_json_types() -> dict[str, str]:
    """Field -> JSON type of a prediction line, required and optional fields together."""
    fields = {**PREDICTION_FIELDS, **OPTIONAL_PREDICTION_FIELDS}
    return {name: declared_type(description) for name, description in fields.items()}
