"""Serve two requests from an unpacked Lambda deployment package, the way Lambda calls it.

Run as `python -S scripts/package_probe.py PACKAGE_DIR` with the packaging Python (3.12): with -S only the package
and the standard library are importable, so a module the pruning removed but the app needs fails here. The Chalice
app object is the Lambda handler; it gets API Gateway proxy events for GET /health and POST /predict. Prints one
line `PROBE {json}` (statuses, model version, the labels, which forbidden modules were imported); exits 1 when an
answer is not 200 or a training-world module was imported. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

FORBIDDEN_MODULES = ("torch", "transformers", "lightning", "huggingface_hub", "hf_xet")


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


def main(package_dir: str) -> int:
    os.chdir(package_dir)
    sys.path.insert(0, package_dir)
    import app  # the package's app.py, importable only once its directory is on the path

    context = LambdaContext()
    health = app.app(api_gateway_event("GET", "/health"), context)
    texts = ["The book was written by John.", "Him voted."]
    predict = app.app(api_gateway_event("POST", "/predict", {"texts": texts}), context)
    body = json.loads(predict["body"])
    result = {
        "python": sys.version.split()[0],
        "health_status": health["statusCode"],
        "predict_status": predict["statusCode"],
        "model_version": json.loads(health["body"]).get("model_version"),
        "labels": [p["label"] for p in body.get("predictions", [])],
        "forbidden_imported": sorted(m for m in FORBIDDEN_MODULES if m in sys.modules),
    }
    print("PROBE " + json.dumps(result), flush=True)
    ok = health["statusCode"] == 200 and predict["statusCode"] == 200 and len(result["labels"]) == len(texts)
    if not ok:
        print(f"probe: the package did not serve: health {health}, predict {predict}", file=sys.stderr)
    if result["forbidden_imported"]:
        print(f"probe: the package imported {result['forbidden_imported']}", file=sys.stderr)
    return 0 if ok and not result["forbidden_imported"] else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -S scripts/package_probe.py PACKAGE_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
