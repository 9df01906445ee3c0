"""A small Lambda Runtime API (2018-06-01) for driving a Lambda container image in tests.

The image's runtime client (awslambdaric) long-polls GET /runtime/invocation/next, then POSTs the handler's result
to /runtime/invocation/<id>/response (or /error). This serves queued events and collects the results. It speaks
HTTP/1.1: awslambdaric's native client crashed (exit 139) on HTTP/1.0 answers.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    """Queue events, wait for their results."""

    def __init__(self) -> None:
        self.first_poll_wall: float | None = None
        """time.time() of the runtime's first GET /next: its init is done (Lambda's Init Duration ends here)."""
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._results: dict[str, tuple[str, Any]] = {}
        self._cond = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, request_id: str, event: dict[str, Any], timeout: float = 60.0) -> tuple[str, Any]:
        """Queue one event and wait for ('response'|'error', payload)."""
        with self._cond:
            self._events.append((request_id, event))
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            while request_id not in self._results:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no result for {request_id} within {timeout} s")
                self._cond.wait(left)
            return self._results.pop(request_id)

    def close(self) -> None:
        self.server.shutdown()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # http.server sends headers and body in two writes: without TCP_NODELAY, Nagle's algorithm holds the
            # body until the client's delayed ACK, adding ~40 ms to every event handed to the runtime client.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._answer(404, b"")
                    return
                with api._cond:
                    if api.first_poll_wall is None:
                        api.first_poll_wall = time.time()
                    while not api._events:
                        api._cond.wait()
                    request_id, event = api._events.pop(0)
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:0:function:api")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = self.path.rstrip("/").split("/")
                key, kind = (parts[-2], parts[-1]) if "/invocation/" in self.path else ("init", "error")
                with api._cond:
                    api._results[key] = (kind, json.loads(payload) if payload else None)
                    api._cond.notify_all()
                self._answer(202, b"")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def api_gateway_event(
    method: str, path: str, body: str | None = None, content_type: str | None = None
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as API Gateway sends it to a Chalice app."""
    headers = {"Content-Type": content_type} if content_type else {}
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
        "body": body,
        "requestContext": {"resourcePath": path, "httpMethod": method, "requestId": "req-" + path, "stage": "dev"},
    }
