"""An HTTP proxy in front of a real Elasticsearch-API server that injects the failures a test server cannot be
made to produce on demand: a whole request answered 429/503, or chosen bulk items answered 429; and, with
`major`, that enforces the REST API compatibility rule of that Elasticsearch major, which noida-db does not check.

The rule, as Elasticsearch documents and implements it (REST API compatibility; RestCompatibleVersionHelper):
a versioned media type `application/vnd.elasticsearch+json; compatible-with=N` in Accept or Content-Type must name
the server's major or the one before it (8.x: 7 or 8; 9.x: 8 or 9), and when a request has a body and either
header is versioned, both must be, with the same N. Otherwise the answer is 400 media_type_header_exception, e.g.
"Accept version must be either version 8 or 7, but found 9" (what every 8.x server answers the 9.x Python client).

The client under test talks real HTTP to the proxy; everything not targeted is forwarded to the real server
unchanged. A rejected bulk item is taken out of the request before it is forwarded (so, as with a real 429, it
is not stored) and its answer is spliced back in its place. This is a test double for the faults only: the
documents that get through are indexed by the real server.

With `opensearch=True` it stands for Amazon OpenSearch Service in front of osmem-server: no answer carries
X-Elastic-Product (osmem-server sends `X-Elastic-Product: Elasticsearch`, which no OpenSearch does, so without this
the Elasticsearch client's product check would pass where it fails against the real service), and with `sigv4`
every request must carry a valid SigV4 signature (tests/support/sigv4_check.py) or is answered 403 as AWS does.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.processes import free_port
from tests.support.sigv4_check import SigV4Check

PRODUCT_HEADER = ("X-Elastic-Product", "Elasticsearch")
_COMPATIBLE_WITH = re.compile(r"application/vnd\.elasticsearch\+[a-z-]+\s*;\s*compatible-with\s*=\s*(\d+)", re.I)


def compatibility_problem(accept: str | None, content_type: str | None, has_body: bool, major: int) -> str | None:
    """Why an Elasticsearch `major` server refuses these headers (None when it accepts them)."""

    def version(value: str | None) -> int | None:
        match = _COMPATIBLE_WITH.search(value or "")
        return int(match.group(1)) if match else None

    allowed = (major, major - 1)
    accept_version, content_version = version(accept), version(content_type)
    if accept_version is not None and accept_version not in allowed:
        return (
            f"Accept version must be either version {major} or {major - 1}, but found {accept_version}. Accept={accept}"
        )
    if has_body and content_version is not None and content_version not in allowed:
        return (
            f"Content-Type version must be either version {major} or {major - 1}, but found {content_version}. "
            f"Content-Type={content_type}"
        )
    if has_body and (accept_version is not None or content_version is not None) and accept_version != content_version:
        return (
            "A compatible version is required on both Content-Type and Accept headers if either one has requested a "
            f"compatible version and the compatible versions must match. Accept={accept}, Content-Type={content_type}"
        )
    return None


@dataclass
class Faults:
    """What to inject next; counters shrink as faults are used."""

    failing_requests: int = 0
    failing_status: int = 503
    item_rejections: dict[str, int] = field(default_factory=dict)  # doc _id -> how many more times to answer 429
    bulk_requests: int = 0  # bulk requests seen (forwarded or failed)
    forwarded_items: list[str] = field(default_factory=list)  # _ids sent on to the server, in order


class EsFaultProxy:
    """A proxy on a free loopback port; `url` is what the client under test uses."""

    def __init__(
        self, upstream: str, major: int | None = None, *, opensearch: bool = False, sigv4: SigV4Check | None = None
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.major = major  # enforce this Elasticsearch major's compatibility rule (None: forward as is)
        self.opensearch = opensearch  # answer as OpenSearch does: no X-Elastic-Product header
        self.sigv4 = sigv4  # refuse (403) what AWS would refuse; None: no signature needed
        self.refused: list[str] = []  # the compatibility or signature problems answered 400/403, in order
        self.verified = 0  # requests whose signature was checked and found valid
        self.faults = Faults()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_requests(self, count: int, status: int = 503) -> None:
        """Answer the next `count` bulk requests with `status`, forwarding nothing."""
        with self._lock:
            self.faults.failing_requests, self.faults.failing_status = count, status

    def reject_items(self, doc_ids: list[str], times: int = 1) -> None:
        """Answer these documents 429 (es_rejected_execution_exception) the next `times` times they are sent."""
        with self._lock:
            self.faults.item_rejections.update(dict.fromkeys(doc_ids, times))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                problem = None
                if proxy.sigv4 is not None:
                    url = f"http://{self.headers.get('Host', '')}{self.path}"
                    denied = proxy.sigv4.problem(self.command, url, dict(self.headers), body)
                    if denied is not None:
                        proxy.refused.append(denied)
                        self._answer(
                            403, {"Content-Type": "application/json"}, json.dumps({"message": denied}).encode()
                        )
                        return
                    proxy.verified += 1
                if proxy.major is not None:
                    accept, content_type = self.headers.get("Accept"), self.headers.get("Content-Type")
                    problem = compatibility_problem(accept, content_type, bool(body), proxy.major)
                if problem is not None:
                    proxy.refused.append(problem)
                    status, headers, answer = proxy._media_type_error(problem)
                elif self.path.split("?")[0].endswith("/_bulk"):
                    status, headers, answer = proxy._bulk(self.command, self.path, dict(self.headers), body)
                else:
                    status, headers, answer = proxy._forward(self.command, self.path, dict(self.headers), body)
                if proxy.opensearch:
                    headers = {k: v for k, v in headers.items() if k.lower() != PRODUCT_HEADER[0].lower()}
                self._answer(status, headers, answer)

            def _answer(self, status: int, headers: dict[str, str], answer: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any  # noqa: N815 (http.server names)

        return Handler

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept", "authorization")}
        request = urllib.request.Request(self.upstream + path, data=body or None, method=method, headers=keep)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer, reply_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as err:
            status, answer, reply_headers = err.code, err.read(), err.headers
        out = {k: v for k, v in reply_headers.items() if k.lower() in ("content-type", "x-elastic-product")}
        return status, out, answer

    def _bulk(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.faults.bulk_requests += 1
            if self.faults.failing_requests > 0:
                self.faults.failing_requests -= 1
                return self._error(self.faults.failing_status)
        lines = [line for line in body.split(b"\n") if line.strip()]
        pairs = [(json.loads(lines[i]), lines[i + 1]) for i in range(0, len(lines), 2)]
        rejected: set[int] = set()
        with self._lock:
            for n, (action, _) in enumerate(pairs):
                doc_id = next(iter(action.values())).get("_id")
                if self.faults.item_rejections.get(doc_id, 0) > 0:
                    self.faults.item_rejections[doc_id] -= 1
                    rejected.add(n)
                else:
                    self.faults.forwarded_items.append(doc_id)
        kept = [pair for n, pair in enumerate(pairs) if n not in rejected]
        items: list[dict[str, Any]] = []
        if kept:
            forwarded = b"".join(json.dumps(a).encode() + b"\n" + d + b"\n" for a, d in kept)
            status, out, answer = self._forward(method, path, headers, forwarded)
            if status != 200:
                return status, out, answer
            items = json.loads(answer)["items"]
        merged: list[dict[str, Any]] = []
        upstream = iter(items)
        for n, (action, _) in enumerate(pairs):
            if n in rejected:
                op, meta = next(iter(action.items()))
                error = {"type": "es_rejected_execution_exception", "reason": "rejected execution (injected)"}
                merged.append(
                    {op: {"_index": meta.get("_index"), "_id": meta.get("_id"), "status": 429, "error": error}}
                )
            else:
                merged.append(next(upstream))
        errors = any("error" in next(iter(item.values())) for item in merged)
        reply = json.dumps({"took": 1, "errors": errors, "items": merged}).encode()
        return 200, {"Content-Type": "application/json", PRODUCT_HEADER[0]: PRODUCT_HEADER[1]}, reply

    @staticmethod
    def _media_type_error(problem: str) -> tuple[int, dict[str, str], bytes]:
        """Elasticsearch's answer to headers it cannot accept (400, media_type_header_exception)."""
        cause = {"type": "status_exception", "reason": problem}
        error = {
            "type": "media_type_header_exception",
            "reason": "Invalid media-type value on headers [Accept, Content-Type]",
            "caused_by": cause,
        }
        body = {"error": {"root_cause": [{k: v for k, v in error.items() if k != "caused_by"}], **error}, "status": 400}
        return (
            400,
            {"Content-Type": "application/json", PRODUCT_HEADER[0]: PRODUCT_HEADER[1]},
            json.dumps(body).encode(),
        )

    @staticmethod
    def _error(status: int) -> tuple[int, dict[str, str], bytes]:
        kinds = {429: "es_rejected_execution_exception", 401: "security_exception", 403: "security_exception"}
        kind = kinds.get(status, "unavailable_shards_exception")
        body = {"error": {"type": kind, "reason": f"injected {status}"}, "status": status}
        return (
            status,
            {"Content-Type": "application/json", PRODUCT_HEADER[0]: PRODUCT_HEADER[1]},
            json.dumps(body).encode(),
        )
