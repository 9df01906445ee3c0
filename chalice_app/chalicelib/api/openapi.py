"""The OpenAPI 3.1 document of the API, built from the app's own route table so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ERROR_CODES
from .validation import TEXT_PATTERN

API_VERSION = "1.0.0"
DESCRIPTION = (
    "Is this English sentence acceptable? A CoLA classifier served with onnxruntime. "
    "Client errors are 4xx with the Error body; 503 means the service has no usable model or settings "
    "(server-side, retry later); 500 is a bug (report the request_id). "
    "API Gateway answers some requests itself, in the same Error shape: 403 for unknown paths and methods, 413 for "
    "bodies over its limit, 429 when throttled, 502 and 504 when the function fails or times out "
    "(`chalice local` answers unknown paths with 403 and unknown methods with 405)."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    """Error responses for these statuses, each listing its codes."""
    responses = {}
    for status in statuses:
        codes = [f"`{code}`: {meaning}" for code, (other, meaning) in ERROR_CODES.items() if other == status]
        responses[str(status)] = _json(_ref("Error"), "; ".join(codes))
    return responses


OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/predict", "POST"): {
        "operationId": "predict",
        "summary": "Classify one text or a batch of texts",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PredictRequest")}}},
        "responses": {
            "200": _json(_ref("PredictResponse"), "One prediction per text, in request order"),
            **_errors(400, 403, 405, 413, 415, 422, 429, 500, 502, 503, 504),
        },
    },
    ("/health", "GET"): {
        "operationId": "health",
        "summary": "Liveness and readiness: loads the model on first call",
        "responses": {
            "200": _json(_ref("Health"), "The model is loaded and serving"),
            "503": _json(_ref("Health"), "No usable model or settings (server-side); `error` says why"),
            **_errors(500),
        },
    },
    ("/model", "GET"): {
        "operationId": "model",
        "summary": "The served bundle's manifest: version, files, training metrics, parity, limits",
        "responses": {"200": _json(_ref("ModelInfo"), "Model metadata"), **_errors(500, 503)},
    },
    ("/openapi.json", "GET"): {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document"), **_errors(500, 503)},
    },
}


def schemas(max_batch: int, max_text_chars: int, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Component schemas, with the deployment's limits and the served model's label names (when it is loaded)."""
    text = {
        "type": "string",
        "minLength": 1,
        "maxLength": max_text_chars,
        "pattern": TEXT_PATTERN,
        "description": "Not only whitespace (Python's str.isspace() characters); valid Unicode (no lone surrogates)",
    }
    probability = {"type": "number", "minimum": 0, "maximum": 1}
    probabilities: dict[str, Any] = (
        {"type": "object", "properties": {label: probability for label in labels}, "required": list(labels)}
        if labels
        else {"type": "object", "additionalProperties": probability, "description": "One per label (GET /model)"}
    )
    label: dict[str, Any] = {"type": "string", "enum": list(labels)} if labels else {"type": "string"}
    return {
        "PredictRequest": {
            "oneOf": [
                {"type": "object", "properties": {"text": text}, "required": ["text"], "additionalProperties": False},
                {
                    "type": "object",
                    "properties": {"texts": {"type": "array", "items": text, "minItems": 1, "maxItems": max_batch}},
                    "required": ["texts"],
                    "additionalProperties": False,
                },
            ]
        },
        "Prediction": {
            "type": "object",
            "properties": {
                "label": label,
                "score": {"type": "number", "description": "Probability of `label` (at least 0.5)"},
                "probabilities": probabilities,
                "truncated": {"type": "boolean", "description": "The text was cut to the model's sequence length"},
                "n_tokens": {"type": "integer", "description": "Word pieces the model saw"},
                "n_chars": {"type": "integer"},
                "unknown_token_rate": {"type": "number"},
            },
            "required": ["label", "score", "probabilities", "truncated", "n_tokens"],
        },
        "PredictResponse": {
            "type": "object",
            "properties": {
                "predictions": {"type": "array", "items": _ref("Prediction")},
                "model_version": {"type": "string"},
                "request_id": {"type": "string", "description": "Also in every log line of this request"},
            },
            "required": ["predictions", "model_version"],
        },
        "Health": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "model_loaded": {"type": "boolean"},
                "model_version": {"type": ["string", "null"]},
                "error": _ref("ErrorDetail"),
            },
            "required": ["status", "model_loaded", "model_version"],
        },
        "ModelInfo": {
            "type": "object",
            "properties": {
                "model_version": {"type": "string"},
                "model_name": {"type": "string"},
                "labels": {"type": "array", "items": {"type": "string"}},
                "files": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"sha256": {"type": "string"}, "bytes": {"type": "integer"}},
                    },
                },
                "serving": {"type": "object", "properties": {"model_file": {"type": "string"}}},
                "training": {"type": "object", "description": "The manifest's training metrics"},
                "parity": {"type": "object", "description": "Export parity results and their gates"},
                "limits": {
                    "type": "object",
                    "properties": {
                        "max_batch": {"type": "integer"},
                        "max_text_chars": {"type": "integer"},
                        "max_sequence_tokens": {"type": "integer"},
                    },
                },
            },
            "required": ["model_version", "labels", "files", "serving", "limits"],
        },
        "ErrorDetail": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "enum": sorted(ERROR_CODES)},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "Where in the body: text, texts, texts[3]"},
                "request_id": {"type": "string"},
            },
            "required": ["code", "message"],
        },
        "Error": {"type": "object", "properties": {"error": _ref("ErrorDetail")}, "required": ["error"]},
    }


def build_openapi(
    routes: Mapping[str, Mapping[str, Any]],
    *,
    max_batch: int,
    max_text_chars: int,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The document for `routes` (Chalice's app.routes: path -> method -> entry).

    A route without an entry in OPERATIONS still appears, marked `x-undocumented` (a test forbids that).
    """
    paths: dict[str, dict[str, Any]] = {}
    for path, methods in sorted(routes.items()):
        for method in sorted(methods):
            operation = OPERATIONS.get((path, method.upper()))
            if operation is None:
                operation = {"summary": path, "responses": {"200": {"description": "OK"}}, "x-undocumented": True}
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "CoLA acceptability API", "version": API_VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": {"schemas": schemas(max_batch, max_text_chars, labels)},
    }
