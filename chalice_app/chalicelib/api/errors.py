"""The API's error shape `{"error": {"code": ..., "message": ...}}`, its catalogue of codes, and the rewrite of
Chalice's own error responses (`{"Code": ..., "Message": ...}`) into that shape.

4xx codes are the client's to fix; 503 is a server-side condition (no usable model or settings: the operator's
to fix, the client may retry later); 500 is a bug. A 503's message is general (PUBLIC_MESSAGES): the detail, which
names paths and settings, goes only to the error log line under the same request id.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Response

ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "the body is not valid JSON (or not UTF-8)"),
    "not_found": (404, "Chalice NotFoundError (unknown paths get API Gateway's own 403 instead)"),
    "method_not_allowed": (405, "the route exists but not with this HTTP method"),
    "text_too_long": (413, "a text is longer than MAX_TEXT_CHARS characters"),
    "too_many_items": (413, "`texts` has more than MAX_BATCH items"),
    "unsupported_media_type": (415, "Content-Type is not application/json"),
    "invalid_request": (422, "the JSON body does not match the request schema (fields, types)"),
    "empty_batch": (422, "`texts` is an empty list"),
    "empty_text": (422, "a text is empty or only whitespace"),
    "invalid_text": (422, "a text holds lone UTF-16 surrogates (not valid Unicode)"),
    "no_content": (422, "a text has nothing the model reads: only control, format or zero-width characters"),
    "bad_request": (400, "a request the gateway refused before the view ran"),
    "forbidden": (403, "API Gateway: an unknown path or method (Missing Authentication Token), or access denied"),
    "request_too_large": (413, "API Gateway: the body is over its 10 MB payload limit"),
    "throttled": (429, "API Gateway: the stage's rate or burst limit (or a usage plan's quota); retry with backoff"),
    "gateway_error": (502, "API Gateway: the function failed or gave no valid answer; retry later"),
    "gateway_timeout": (504, "API Gateway: the function did not answer within the integration timeout"),
    "internal_error": (500, "a bug: the traceback is in the logs under the request_id"),
    "model_unavailable": (503, "the model bundle is missing or corrupt (server-side; retry later)"),
    "misconfigured": (503, "the service's settings are invalid (server-side; retry later)"),
}
"""code -> (HTTP status, meaning). The OpenAPI document and docs/api.md list these."""

GATEWAY_RESPONSES: dict[str, str] = {
    "ACCESS_DENIED": "forbidden",
    "MISSING_AUTHENTICATION_TOKEN": "forbidden",
    "REQUEST_TOO_LARGE": "request_too_large",
    "THROTTLED": "throttled",
    "QUOTA_EXCEEDED": "throttled",
    "INTEGRATION_FAILURE": "gateway_error",
    "INTEGRATION_TIMEOUT": "gateway_timeout",
    "DEFAULT_4XX": "bad_request",
    "DEFAULT_5XX": "gateway_error",
}
"""API Gateway's own answers (response type -> code), given the error shape by the deploy template's
GatewayResponses; API Gateway keeps its status codes and its message."""


def gateway_response_template(code: str) -> str:
    """The mapping template of a gateway response: the API's error shape with API Gateway's message (a JSON string
    already: $context.error.messageString) and request id."""
    return (
        f'{{"error": {{"code": "{code}", "message": $context.error.messageString, '
        '"request_id": "$context.requestId"}}'
    )


PUBLIC_MESSAGES: dict[str, str] = {
    "model_unavailable": "the model is not available; the operator has the details in the logs",
    "misconfigured": "the service is misconfigured; the operator has the details in the logs",
}
"""What a client reads for a server-side condition (never file paths, hashes or settings)."""

_CHALICE_CODES = {
    "BadRequestError": "bad_request",
    "BadRequest": "bad_request",
    "NotFoundError": "not_found",
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "InternalServerError": "internal_error",
}


class ApiError(Exception):
    """An error the API answers with its JSON error body; `code` must be in ERROR_CODES."""

    def __init__(self, code: str, message: str, *, field: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status if status is not None else ERROR_CODES[code][0]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON error body; `extra` (field, request_id) joins code and message when not None."""
    error: dict[str, Any] = {"code": code, "message": message}
    error.update({key: value for key, value in extra.items() if value is not None})
    return {"error": error}


def error_response(err: ApiError, request_id: str | None = None) -> Response:
    """The Chalice response for an ApiError."""
    return Response(
        body=error_body(err.code, err.message, field=err.field, request_id=request_id), status_code=err.status
    )


def normalize_chalice_error(response: Response) -> Response:
    """Rewrite Chalice's `{"Code", "Message"}` error bodies (405, 415, 500, ...) into the API's error shape."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    code = _CHALICE_CODES.get(str(body["Code"]), "internal_error" if response.status_code >= 500 else "bad_request")
    message = str(body["Message"]) if response.status_code < 500 else "An internal server error occurred."
    return Response(body=error_body(code, message), status_code=response.status_code, headers=response.headers)
