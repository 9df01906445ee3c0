"""CloudWatch Logs subscription events built as CloudWatch builds them: for tests, `make ship-local` and bench.

The shipper decodes them with chalice_app/chalicelib/shipper/cloudwatch.py; nothing here ships to Lambda.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from typing import Any

from chalice_app.chalicelib.shipper.cloudwatch import CONTROL_MESSAGE, DATA_MESSAGE, LogEvent, LogsPayload


def encode_payload(payload: LogsPayload) -> dict[str, Any]:
    """The Lambda event CloudWatch Logs sends for this payload (JSON, gzip, base64)."""
    document = {
        "messageType": payload.message_type,
        "owner": payload.owner,
        "logGroup": payload.log_group,
        "logStream": payload.log_stream,
        "subscriptionFilters": list(payload.subscription_filters),
        "logEvents": [{"id": e.id, "timestamp": e.timestamp_ms, "message": e.message} for e in payload.log_events],
    }
    compressed = gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    return {"awslogs": {"data": base64.b64encode(compressed).decode("ascii")}}


def subscription_event(
    log_group: str,
    log_stream: str,
    events: Sequence[LogEvent],
    *,
    owner: str = "000000000000",
    filters: Sequence[str] = ("predictions",),
) -> dict[str, Any]:
    """A DATA_MESSAGE event holding these log events."""
    payload = LogsPayload(DATA_MESSAGE, owner, log_group, log_stream, tuple(filters), tuple(events))
    return encode_payload(payload)


def control_event(timestamp_ms: int) -> dict[str, Any]:
    """The health check CloudWatch sends when a subscription is created."""
    message = "CWL CONTROL MESSAGE: Checking health of destination Firehose."
    payload = LogsPayload(CONTROL_MESSAGE, "CloudwatchLogs", "", "", (), (LogEvent("", timestamp_ms, message),))
    return encode_payload(payload)
