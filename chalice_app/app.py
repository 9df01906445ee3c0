"""The CoLA acceptability API on Chalice: POST /predict, GET /health, GET /model, GET /openapi.json.

Chalice's layout: this file is the deployment package's `app` module and imports `chalicelib.*`. Every answer is
JSON; errors are `{"error": {"code", "message"}}` (chalicelib.api.errors lists the codes); each prediction writes one
JSON line to stdout (chalicelib.contract.log_line). Settings come from the environment (chalicelib.api.settings).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, Request, Response

if TYPE_CHECKING:  # mypy runs from the repository root, where chalicelib is the package chalice_app.chalicelib
    from chalice_app.chalicelib.api import errors, model_info, openapi, runtime, validation
    from chalice_app.chalicelib.contract import json_logging, log_line
    from chalice_app.chalicelib.shipper import handler as shipper
else:  # Lambda, `chalice local` and the tests run this file with chalice_app/ on sys.path
    from chalicelib.api import errors, model_info, openapi, runtime, validation
    from chalicelib.contract import json_logging, log_line
    from chalicelib.shipper import handler as shipper

app = Chalice(app_name="cola-acceptability")
RUNTIME = runtime.Runtime()
"""Settings and model of this process, loaded on first use (tests call RUNTIME.configure)."""

View = Callable[[Request | None, str], Response]
"""A view takes the request (read once: `chalice local` serves threads that share app.current_request) and its id."""


def request_id_of(request: Request | None) -> str:
    """API Gateway's requestId when there is one (not under `chalice local`), else a fresh uuid4."""
    context = request.context if request is not None else None
    value = context.get("requestId") if isinstance(context, dict) else None
    return str(value) if value else str(uuid.uuid4())


def api_view(view: View) -> Callable[[], Response]:
    """Give a view its request and request id; turn ApiError into its JSON error, anything else into a logged 500."""

    @functools.wraps(view)
    def wrapped() -> Response:
        request = app.current_request
        request_id = request_id_of(request)
        try:
            response = view(request, request_id)
        except errors.ApiError as err:
            response = errors.error_response(err, request_id)
        except Exception:
            message = f"unhandled exception in {view.__name__}"
            json_logging.log_error("internal_error", message, request_id, with_traceback=True)
            body = errors.error_body("internal_error", "An internal server error occurred.", request_id=request_id)
            response = Response(body=body, status_code=500)
        response.headers["X-Request-Id"] = request_id
        return response

    return wrapped


@app.middleware("http")
def chalice_errors_as_json(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice answers some requests itself (405, 415): give those the API's error shape too."""
    return errors.normalize_chalice_error(get_response(event))


@app.route("/predict", methods=["POST"], content_types=["application/json"])
@api_view
def predict(request: Request | None, request_id: str) -> Response:
    """Classify `{"text": ...}` or `{"texts": [...]}`; one log line per prediction."""
    started = time.perf_counter()
    settings = RUNTIME.settings()
    body = validation.validate_predict(
        validation.parse_json(_raw_body(request)), max_batch=settings.max_batch, max_text_chars=settings.max_text_chars
    )
    model = RUNTIME.model()
    inference_started = time.perf_counter()
    predictions = model.predict(body.texts)
    finished = time.perf_counter()
    empty = [index for index, prediction in enumerate(predictions) if prediction.n_tokens == 0]
    if empty:
        where = "text" if body.single else f"texts[{empty[0]}]"
        others = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
        message = f"{where}{others} has nothing the model reads: only control, format or zero-width characters"
        raise errors.ApiError("no_content", message, field=where)
    timestamp = json_logging.utc_timestamp()
    json_logging.write_lines(
        log_line.prediction_record(
            prediction,
            text,
            timestamp=timestamp,
            request_id=request_id,
            model_version=model.model_version,
            model_file=model.model_file,
            latency_ms=(finished - started) * 1000,
            inference_ms=(finished - inference_started) * 1000,
            batch_size=len(body.texts),
            index=index,
            log_raw_text=settings.log_raw_text,
            positive_label=model.manifest["labels"][1],
        )
        for index, (prediction, text) in enumerate(zip(predictions, body.texts, strict=True))
    )
    answer = {
        "predictions": [
            {
                "label": p.label,
                "score": p.score,
                "probabilities": p.probabilities,
                "truncated": p.truncated,
                "n_tokens": p.n_tokens,
            }
            for p in predictions
        ],
        "model_version": model.model_version,
        "request_id": request_id,
    }
    return Response(body=answer, status_code=200)


@app.route("/health", methods=["GET"])
@api_view
def health(request: Request | None, request_id: str) -> Response:
    """200 when the model is loaded (loading it on first call); 503 with the reason when it cannot be."""
    try:
        model = RUNTIME.model()
    except errors.ApiError as err:
        error = {"code": err.code, "message": err.message}
        body = {"status": "unavailable", "model_loaded": False, "model_version": None, "error": error}
        return Response(body=body, status_code=err.status)
    return Response(body={"status": "ok", "model_loaded": True, "model_version": model.model_version})


@app.route("/model", methods=["GET"])
@api_view
def model_metadata(request: Request | None, request_id: str) -> Response:
    """The served bundle's metadata and the API's limits."""
    return Response(body=model_info.model_info(RUNTIME.model(), RUNTIME.settings()))


@app.route("/openapi.json", methods=["GET"])
@api_view
def openapi_document(request: Request | None, request_id: str) -> Response:
    """The OpenAPI 3.1 document of these routes."""
    settings = RUNTIME.settings()
    try:
        labels: list[str] | None = list(RUNTIME.model().manifest["labels"])
    except errors.ApiError:  # the document still describes the API while no model can be served
        labels = None
    limits = {"max_batch": settings.max_batch, "max_text_chars": settings.max_text_chars}
    return Response(body=openapi.build_openapi(app.routes, labels=labels, **limits))


def _raw_body(request: Request | None) -> bytes | str:
    """The request body as sent (base64 already decoded); a body that cannot be decoded is invalid JSON."""
    if request is None:
        return b""
    try:
        return request.raw_body
    except ValueError:
        raise errors.ApiError("invalid_json", "the request body could not be decoded") from None


@app.lambda_function(name="ship_logs")
def ship_logs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The log shipper: a CloudWatch Logs subscription event into Elasticsearch (chalicelib.shipper.handler)."""
    return shipper.handle(event, context)
