"""Realistic log lines of the API's Lambda and CloudWatch Logs subscription events built from them.

Prediction lines come from the real schema code (chalicelib.contract.log_line.prediction_record); platform lines are
written the way Lambda writes them (text log format); events are gzip + base64 JSON, as CloudWatch sends them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalice_app.chalicelib.api.predictor import Prediction
from chalice_app.chalicelib.contract.json_logging import utc_timestamp
from chalice_app.chalicelib.contract.log_line import prediction_record
from chalice_app.chalicelib.shipper.cloudwatch import LogEvent
from devtools.cloudwatch_events import subscription_event
from tests.support.labels import LABELS

LOG_GROUP = "/aws/lambda/cola-acceptability-dev"
LOG_STREAM = "2026/11/26/[$LATEST]0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 26, 7, 2, 52, 123000, tzinfo=UTC)
MODEL_VERSION = "m-0123456789ab"


def prediction_line(
    text: str = "The cat sat on the mat.",
    *,
    p_acceptable: float = 0.83,
    at: datetime = T0,
    request_id: str | None = None,
    model_version: str = MODEL_VERSION,
    latency_ms: float = 3.4,
    log_raw_text: bool = False,
    index: int = 0,
    batch_size: int = 1,
) -> dict[str, Any]:
    """One prediction line as the API writes it."""
    label = "acceptable" if p_acceptable >= 0.5 else "unacceptable"
    prediction = Prediction(
        label=label,
        score=p_acceptable if label == "acceptable" else 1 - p_acceptable,
        probabilities={"unacceptable": 1 - p_acceptable, "acceptable": p_acceptable},
        n_chars=len(text),
        n_tokens=len(text.split()),
        truncated=False,
        unknown_token_rate=0.0,
    )
    return prediction_record(
        prediction,
        text,
        timestamp=utc_timestamp(at),
        request_id=request_id or str(uuid.uuid4()),
        model_version=model_version,
        model_file="model.int8.onnx",
        latency_ms=latency_ms,
        inference_ms=latency_ms * 0.8,
        batch_size=batch_size,
        index=index,
        log_raw_text=log_raw_text,
        positive_label=LABELS[1],
    )


def json_line(record: dict[str, Any]) -> str:
    """As logging_json writes it: ASCII-escaped JSON and a newline."""
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def report_line(request_id: str, duration_ms: float = 12.34, init_ms: float | None = 251.07) -> str:
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {int(duration_ms) + 1} ms"
        "\tMemory Size: 1024 MB\tMax Memory Used: 87 MB\t"
    )
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    return line + "\n"


def event_id(sequence: int, at: datetime = T0) -> str:
    """A 56-digit id shaped like CloudWatch's (time first, then a sequence)."""
    return f"{int(at.timestamp() * 1000):020d}{sequence:036d}"


def events_of(messages: list[str], at: datetime = T0, first: int = 0) -> list[LogEvent]:
    """One log event per message, a millisecond apart."""
    return [
        LogEvent(event_id(first + n, at), int((at + timedelta(milliseconds=n)).timestamp() * 1000), message)
        for n, message in enumerate(messages)
    ]


def subscription(
    messages: list[str], at: datetime = T0, first: int = 0, log_stream: str = LOG_STREAM
) -> dict[str, Any]:
    """The Lambda event CloudWatch Logs sends for these messages."""
    return subscription_event(LOG_GROUP, log_stream, events_of(messages, at, first), filters=["logs-to-shipper"])


def invocation(request_id: str, predictions: list[dict[str, Any]], init_ms: float | None = None) -> list[str]:
    """The messages of one API invocation: START, its prediction lines, END, REPORT."""
    return [
        start_line(request_id),
        *(json_line(p) for p in predictions),
        end_line(request_id),
        report_line(request_id, init_ms=init_ms),
    ]


def as_stored(line: dict[str, Any]) -> dict[str, Any]:
    """The line with its floats compared to 1e-12: noida-db re-serializes _source and may move a float's last
    digit (Elasticsearch returns _source verbatim)."""
    return {k: pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for k, v in line.items()}


LAMBDA_LINES = {
    "start": "START RequestId: 6f1d2c1e-0000-4000-8000-000000000001 Version: $LATEST",
    "end": "END RequestId: 6f1d2c1e-0000-4000-8000-000000000001",
    "report": "REPORT RequestId: 6f1d2c1e-0000-4000-8000-000000000001\tDuration: 5.21 ms\tBilled Duration: 6 ms"
    "\tMemory Size: 1024 MB\tMax Memory Used: 180 MB\tInit Duration: 412.10 ms",
    "traceback": '[ERROR] RuntimeError: boom\nTraceback (most recent call last):\n  File "/var/task/app.py"',
}
"""Lines Lambda's Python runtime adds to the same log group (text, not JSON)."""
