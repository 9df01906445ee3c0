"""Serve two requests and ship logs from an unpacked Lambda deployment package, the way Lambda calls it.

Run as `python -S scripts/package_probe.py PACKAGE_DIR` with the packaging Python (3.12): with -S only the package
and the standard library are importable, so a module the pruning removed but a function needs fails here. The
Chalice app object is the API's Lambda handler; it gets API Gateway proxy events for GET /health and POST /predict.
`app.ship_logs` (the log shipper, whose search client is imported on first use) gets a CloudWatch Logs
subscription event twice: first against a loopback HTTP endpoint that answers the bulk API as Elasticsearch does
(no Elasticsearch runs while packaging; the shipper against a real one is tested in tests/), which must store every
line, then with that endpoint closed, which must raise the shipper's documented EsUnavailableError. Then once more
with SEARCH_BACKEND=opensearch (opensearch-py, basic auth: SigV4 needs botocore, which the Lambda runtime provides
and the package does not carry), answered as OpenSearch answers (plain JSON, no X-Elastic-Product).
Prints one line `PROBE {json}` (statuses, model version, labels, documents stored, the error, which forbidden
modules were imported, the top-level packages imported from the package); exits 1 when an answer is wrong or a
training-world module was imported. Standard library only.

In the Lambda image the app (/var/task) and its dependencies (/opt/python) are apart: `python3 package_probe.py
/var/task /opt/python` also reports the top-level packages imported from the second directory (imported_from_site),
which tests/container/test_image_contents.py holds against what the image carries.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

FORBIDDEN_MODULES = ("torch", "transformers", "lightning", "huggingface_hub", "hf_xet")
LOG_LINES = ("probe: a plain log line", '{"type": "event", "event": "probe", "timestamp": "2026-01-01T00:00:00Z"}')
SHIPPER_UNAVAILABLE = "EsUnavailableError"


def api_gateway_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A minimal API Gateway REST proxy event."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "isBase64Encoded": False,
        "body": None if body is None else json.dumps(body),
        "requestContext": {"resourcePath": path, "httpMethod": method, "requestId": f"probe-{path}", "stage": "dev"},
    }


class LambdaContext:
    """The attributes of Lambda's context object that a handler may read."""

    function_name = "api_handler"
    aws_request_id = "probe"
    memory_limit_in_mb = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def subscription_event(lines: tuple[str, ...]) -> dict[str, Any]:
    """A CloudWatch Logs subscription event (gzipped, base64) carrying `lines` from an API function's log group."""
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/probe-dev",
        "logStream": "2026/01/01/[$LATEST]probe",
        "subscriptionFilters": ["probe"],
        "logEvents": [
            {"id": str(i), "timestamp": 1_767_225_600_000 + i, "message": line} for i, line in enumerate(lines)
        ],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


class BulkEndpoint(BaseHTTPRequestHandler):
    """Answers the bulk API (PUT or POST /_bulk) as Elasticsearch does: every `create` stored (201); keeps them."""

    stored: ClassVar[list[dict[str, Any]]] = []
    authorizations: ClassVar[list[str]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        actions, documents = lines[0::2], lines[1::2]
        if not self.path.startswith("/_bulk") or len(actions) != len(documents):
            self.send_error(400, f"expected a bulk request, got {self.path}")
            return
        BulkEndpoint.stored.extend(documents)
        BulkEndpoint.authorizations.append(self.headers.get("Authorization", "").split(" ")[0])
        items = [{"create": {**action["create"], "status": 201, "result": "created"}} for action in actions]
        answer = json.dumps({"took": 1, "errors": False, "items": items}).encode()
        self.send_response(200)
        if "vnd.elasticsearch" in self.headers.get("Accept", ""):  # the Elasticsearch client
            self.send_header("Content-Type", "application/vnd.elasticsearch+json; compatible-with=9")
            self.send_header("X-Elastic-Product", "Elasticsearch")
        else:  # opensearch-py, answered as OpenSearch does
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_POST(self) -> None:
        self.do_PUT()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: stdout carries the PROBE line and the app's JSON log lines."""


def ship_twice(app: Any, context: LambdaContext) -> dict[str, Any]:
    """Ship LOG_LINES to the bulk endpoint, then again once it is closed; what was stored and what was raised."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BulkEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name in ("ES_API_KEY_SECRET_ID", "AWS_LAMBDA_LOG_GROUP_NAME"):
        os.environ.pop(name, None)
    os.environ.update(ES_URL=f"http://127.0.0.1:{server.server_port}", ES_API_KEY="", ES_MAX_RETRIES="0")
    try:
        summary = app.ship_logs(subscription_event(LOG_LINES), context)
    finally:
        server.shutdown()
        server.server_close()
    try:
        app.ship_logs(subscription_event(LOG_LINES), context)
        unavailable = "nothing raised"
    except Exception as err:  # the probe reports whatever the shipper raised; main() checks it is the documented one
        unavailable = f"{type(err).__name__}: {err}"
    return {
        "ship_created": summary.get("created"),
        "ship_stored": len(BulkEndpoint.stored),
        "ship_unavailable_error": unavailable,
    }


def ship_to_opensearch(app: Any, context: LambdaContext) -> dict[str, Any]:
    """Ship LOG_LINES with SEARCH_BACKEND=opensearch (basic auth) to the bulk endpoint answering as OpenSearch."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BulkEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = len(BulkEndpoint.stored)
    os.environ.update(ES_URL=f"http://127.0.0.1:{server.server_port}", SEARCH_BACKEND="opensearch", ES_AUTH="basic")
    os.environ.update(ES_USERNAME="probe", ES_PASSWORD="probe-password")
    app.shipper.SHIPPER.reset()  # the settings of the Elasticsearch run are cached for their TTL
    try:
        summary = app.ship_logs(subscription_event(LOG_LINES), context)
    finally:
        server.shutdown()
        server.server_close()
    return {
        "opensearch_created": summary.get("created"),
        "opensearch_stored": len(BulkEndpoint.stored) - before,
        "opensearch_authorization": BulkEndpoint.authorizations[-1] if BulkEndpoint.authorizations else "",
    }


def imported_from(package_dir: str) -> list[str]:
    """Top-level names of the modules imported from the package directory."""
    root = Path(package_dir).resolve()
    files = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
    return sorted({name.split(".")[0] for name, f in files.items() if f and Path(f).resolve().is_relative_to(root)})


def main(package_dir: str, site_dir: str | None = None) -> int:
    os.chdir(package_dir)
    sys.path.insert(0, package_dir)
    import app  # the package's app.py, importable only once its directory is on the path

    context = LambdaContext()
    health = app.app(api_gateway_event("GET", "/health"), context)
    texts = ["The book was written by John.", "Him voted."]
    predict = app.app(api_gateway_event("POST", "/predict", {"texts": texts}), context)
    body = json.loads(predict["body"])
    shipped = {**ship_twice(app, context), **ship_to_opensearch(app, context)}
    result = {
        "python": sys.version.split()[0],
        "health_status": health["statusCode"],
        "predict_status": predict["statusCode"],
        "model_version": json.loads(health["body"]).get("model_version"),
        "labels": [p["label"] for p in body.get("predictions", [])],
        **shipped,
        "forbidden_imported": sorted(m for m in FORBIDDEN_MODULES if m in sys.modules),
        "imported_from_package": imported_from(package_dir),
        **({"imported_from_site": imported_from(site_dir)} if site_dir else {}),
    }
    print("PROBE " + json.dumps(result), flush=True)
    serves = health["statusCode"] == 200 and predict["statusCode"] == 200 and len(result["labels"]) == len(texts)
    if not serves:
        print(f"probe: the package did not serve: health {health}, predict {predict}", file=sys.stderr)
    ships = shipped["ship_created"] == shipped["ship_stored"] == len(LOG_LINES)
    ships = ships and shipped["ship_unavailable_error"].startswith(SHIPPER_UNAVAILABLE + ":")
    ships = ships and shipped["opensearch_created"] == shipped["opensearch_stored"] == len(LOG_LINES)
    ships = ships and shipped["opensearch_authorization"] == "Basic"
    if not ships:
        print(f"probe: the package did not ship logs as documented: {shipped}", file=sys.stderr)
    if result["forbidden_imported"]:
        print(f"probe: the package imported {result['forbidden_imported']}", file=sys.stderr)
    return 0 if serves and ships and not result["forbidden_imported"] else 1


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print("usage: python -S scripts/package_probe.py PACKAGE_DIR [SITE_DIR]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
