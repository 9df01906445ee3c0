"""CloudWatch Logs subscription events: decoding what the shipper receives (devtools/cloudwatch_events.py builds them).

A subscription filter invokes its Lambda with `{"awslogs": {"data": <base64 of gzip of JSON>}}`; the JSON is
`{"messageType": "DATA_MESSAGE" | "CONTROL_MESSAGE", "owner", "logGroup", "logStream", "subscriptionFilters",
"logEvents": [{"id", "timestamp" (ms since the epoch), "message"}]}`. CloudWatch sends a CONTROL_MESSAGE to check
that the destination is reachable; it carries no log data.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"
MAX_TIMESTAMP_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z


class PayloadError(ValueError):
    """The event is not a readable CloudWatch Logs subscription event."""


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch log event: what one write of the function became."""

    id: str
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class LogsPayload:
    """The decoded `awslogs.data` of one invocation."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    log_events: tuple[LogEvent, ...]

    @property
    def is_control(self) -> bool:
        return self.message_type == CONTROL_MESSAGE


def decode_event(event: Any) -> LogsPayload:
    """The payload of a subscription event; PayloadError says which layer (envelope, base64, gzip, JSON) is wrong."""
    if not isinstance(event, dict) or not isinstance(event.get("awslogs"), dict):
        got = sorted(event) if isinstance(event, dict) else type(event).__name__
        raise PayloadError(
            f'not a CloudWatch Logs subscription event: expected {{"awslogs": {{"data": ...}}}}, got {got}'
        )
    data = event["awslogs"].get("data")
    if not isinstance(data, str) or not data:
        raise PayloadError("awslogs.data must be a non-empty base64 string")
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise PayloadError(f"awslogs.data is not valid base64: {err}") from None
    try:
        raw = gzip.decompress(compressed)
    except (OSError, EOFError, zlib.error) as err:
        raise PayloadError(f"awslogs.data is not gzip data: {err}") from None
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PayloadError(f"awslogs.data does not hold JSON: {err}") from None
    return _payload(document)


def _payload(document: Any) -> LogsPayload:
    if not isinstance(document, dict):
        raise PayloadError(f"the subscription payload must be a JSON object, got {type(document).__name__}")
    message_type = document.get("messageType")
    if message_type not in (DATA_MESSAGE, CONTROL_MESSAGE):
        raise PayloadError(f"messageType must be {DATA_MESSAGE} or {CONTROL_MESSAGE}, got {message_type!r}")
    events = document.get("logEvents")
    if not isinstance(events, list):
        raise PayloadError("the subscription payload has no logEvents list")
    return LogsPayload(
        message_type=message_type,
        owner=str(document.get("owner", "")),
        log_group=str(document.get("logGroup", "")),
        log_stream=str(document.get("logStream", "")),
        subscription_filters=tuple(str(f) for f in document.get("subscriptionFilters") or ()),
        log_events=tuple(_log_event(e, i) for i, e in enumerate(events)),
    )


def _log_event(value: Any, position: int) -> LogEvent:
    if not isinstance(value, dict):
        raise PayloadError(f"logEvents[{position}] must be an object, got {type(value).__name__}")
    event_id, timestamp, message = value.get("id"), value.get("timestamp"), value.get("message")
    if not isinstance(event_id, str):
        raise PayloadError(f"logEvents[{position}].id must be a string, got {event_id!r}")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp < MAX_TIMESTAMP_MS:
        raise PayloadError(
            f"logEvents[{position}].timestamp must be milliseconds since 1970 (before year 10000), got {timestamp!r}"
        )
    if not isinstance(message, str):
        raise PayloadError(f"logEvents[{position}].message must be a string, got {type(message).__name__}")
    return LogEvent(id=event_id, timestamp_ms=timestamp, message=message)
