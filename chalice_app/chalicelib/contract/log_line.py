"""The prediction log line: one JSON object per prediction on stdout (CloudWatch Logs on Lambda).

This module is the schema's single definition: monitoring code (the log shipper, index templates, the drift
report) imports LOG_SCHEMA_VERSION and the field tables from here. Bump the version when a field changes meaning
or disappears; adding an optional field does not need a bump.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, TypedDict

LOG_SCHEMA_VERSION = 1
PREDICTION_TYPE = "prediction"
ERROR_TYPE = "error"

PREDICTION_FIELDS: dict[str, str] = {
    "log_schema": "integer: LOG_SCHEMA_VERSION",
    "type": 'string: "prediction"',
    "timestamp": "string: ISO 8601 UTC with milliseconds, e.g. 2026-11-26T07:02:52.123Z",
    "request_id": "string: API Gateway's requestId, else a uuid4 (shared by the lines of one request)",
    "model_version": "string: the bundle's content-derived version",
    "model_file": "string: the ONNX file that served the prediction",
    "label": "string: one of the bundle's label names (its manifest's labels)",
    "score": "number: probability of the predicted label",
    "p_acceptable": "number: probability of the positive class, the manifest's labels[1] (CoLA: acceptable)",
    "latency_ms": "number: server time of the whole request, up to its predictions",
    "inference_ms": "number: tokenization and model time of the whole batch",
    "batch_size": "integer: texts in the request",
    "index": "integer: position of the text in the request",
    "n_chars": "integer: length of the text in characters",
    "n_tokens": "integer: word pieces the model saw (special tokens excluded)",
    "truncated": "boolean: the text was cut to the model's sequence length",
    "unknown_token_rate": "number: share of [UNK] word pieces",
    "text_sha256": "string: hex sha256 of the UTF-8 text",
}
"""Every prediction line has these fields."""

OPTIONAL_PREDICTION_FIELDS: dict[str, str] = {
    "text": "string: the raw text, only when LOG_RAW_TEXT=true",
}

ERROR_FIELDS: dict[str, str] = {
    "log_schema": "integer: LOG_SCHEMA_VERSION",
    "type": 'string: "error"',
    "timestamp": "string: ISO 8601 UTC with milliseconds",
    "request_id": "string or null",
    "code": "string: internal_error or model_unavailable or misconfigured",
    "message": "string",
    "traceback": "string: Python traceback (internal_error only)",
}
"""Lines of type "error": a bug (internal_error) or a server-side condition; never a client error."""


class _PredictionFields(TypedDict):
    log_schema: int
    type: str
    timestamp: str
    request_id: str
    model_version: str
    model_file: str
    label: str
    score: float
    p_acceptable: float
    latency_ms: float
    inference_ms: float
    batch_size: int
    index: int
    n_chars: int
    n_tokens: int
    truncated: bool
    unknown_token_rate: float
    text_sha256: str


class PredictionLine(_PredictionFields, total=False):
    """A prediction line as written (PREDICTION_FIELDS describes each field; `text` only with LOG_RAW_TEXT)."""

    text: str


class PredictionLike(Protocol):
    """What a line needs from a prediction (chalicelib.api.predictor.Prediction fits)."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def probabilities(self) -> dict[str, float]: ...
    @property
    def n_chars(self) -> int: ...
    @property
    def n_tokens(self) -> int: ...
    @property
    def truncated(self) -> bool: ...
    @property
    def unknown_token_rate(self) -> float: ...


def text_sha256(text: str) -> str:
    """Hex sha256 of the text's UTF-8 bytes (what the log carries instead of the text)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def prediction_record(
    prediction: PredictionLike,
    text: str,
    *,
    timestamp: str,
    request_id: str,
    model_version: str,
    model_file: str,
    latency_ms: float,
    inference_ms: float,
    batch_size: int,
    index: int,
    log_raw_text: bool,
    positive_label: str,
) -> PredictionLine:
    """One prediction's log line, fields in PREDICTION_FIELDS order (+ text when allowed); `positive_label` is the
    manifest's labels[1], whose probability is p_acceptable."""
    record: PredictionLine = {
        "log_schema": LOG_SCHEMA_VERSION,
        "type": PREDICTION_TYPE,
        "timestamp": timestamp,
        "request_id": request_id,
        "model_version": model_version,
        "model_file": model_file,
        "label": prediction.label,
        "score": prediction.score,
        "p_acceptable": prediction.probabilities[positive_label],
        "latency_ms": round(latency_ms, 3),
        "inference_ms": round(inference_ms, 3),
        "batch_size": batch_size,
        "index": index,
        "n_chars": prediction.n_chars,
        "n_tokens": prediction.n_tokens,
        "truncated": prediction.truncated,
        "unknown_token_rate": prediction.unknown_token_rate,
        "text_sha256": text_sha256(text),
    }
    if log_raw_text:
        record["text"] = text
    return record
