"""A closed-loop load generator: N requests over C keep-alive connections, each answer checked, latencies kept.

Why this and not wrk or locust: wrk needs a Lua script for POST bodies and checks no answers; locust adds
gevent and a web UI to the dev environment; and the same loop must also drive the Lambda container through the
Runtime API, which is not HTTP to the app. This is a page of standard library code: C threads take the next
request number until N are sent and record the latency of every request. An answer counts as an error unless it
is 200 with a JSON body holding one prediction per text sent; the first errors are kept verbatim. Latencies are
per request (queueing in the server included); throughput is N over the wall time of the whole run.

HTTP requests go over one kept-alive connection per thread, with TCP_QUICKACK set before each answer is read.
`chalice local` (http.server) writes an answer's headers and body in two send() calls; Nagle's algorithm holds
the body until the headers are acknowledged, and a client that delays its ACK adds about 40 ms to every answer
(measured here: 52 ms against 12 ms with the quick ACK, same load). A new connection per request avoids that but
overflows http.server's listen backlog of 5 at C=16, and the dropped SYNs come back after 1 s (p99 of 1037 ms).
Both are properties of the development server, not of the app; `new_connections=True` measures the second.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_KEPT_ERRORS = 5
TIMEOUT_S = 60.0
QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
"""Linux's TCP_QUICKACK (None elsewhere: the answers may then carry the delayed-ACK wait described above)."""


@dataclass(frozen=True)
class Body:
    """One request body and how many predictions its answer must hold."""

    payload: bytes
    n_texts: int


def single_bodies(sentences: Sequence[str]) -> list[Body]:
    """`{"text": s}` for every sentence."""
    return [Body(json.dumps({"text": s}).encode(), 1) for s in sentences]


def batch_bodies(sentences: Sequence[str], size: int) -> list[Body]:
    """`{"texts": [...]}` of `size` consecutive sentences, wrapping around the list."""
    if not sentences:
        raise ValueError("no sentences to build batches from")
    count = max(1, len(sentences) // size)
    batches = [[sentences[(i * size + j) % len(sentences)] for j in range(size)] for i in range(count)]
    return [Body(json.dumps({"texts": batch}).encode(), size) for batch in batches]


@dataclass
class LoadResult:
    """The outcome of one run: latencies of the successful requests, the errors, the wall time."""

    requests: int
    concurrency: int
    texts_per_request: int
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: p50/p90/p99/max in ms, requests and texts per second."""
        lat = sorted(self.latencies_s)
        figures: dict[str, Any] = {
            "requests": self.requests,
            "concurrency": self.concurrency,
            "texts_per_request": self.texts_per_request,
            "ok": len(lat),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "wall_s": round(self.wall_s, 3),
        }
        if lat:
            figures.update(
                p50_ms=round(percentile(lat, 50) * 1000, 2),
                p90_ms=round(percentile(lat, 90) * 1000, 2),
                p99_ms=round(percentile(lat, 99) * 1000, 2),
                max_ms=round(lat[-1] * 1000, 2),
                mean_ms=round(statistics.fmean(lat) * 1000, 2),
                requests_per_s=round(self.requests / self.wall_s, 1),
                texts_per_s=round(self.requests * self.texts_per_request / self.wall_s, 1),
            )
        return figures


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linear between closest ranks."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def check_answer(status: int, raw: bytes, n_texts: int) -> str | None:
    """None for a good /predict answer, else what is wrong with it."""
    if status != 200:
        return f"HTTP {status}: {raw[:300]!r}"
    try:
        predictions = json.loads(raw)["predictions"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP 200 without a predictions list: {raw[:300]!r}"
    if not isinstance(predictions, list):
        return f"HTTP 200 with predictions that are not a list: {raw[:300]!r}"
    if len(predictions) != n_texts:
        return f"HTTP 200 with {len(predictions)} predictions for {n_texts} texts sent"
    return None


class HttpTarget:
    """POSTs bodies to one URL: one kept-alive connection per thread (quick ACKs), or a new one per request."""

    def __init__(self, url: str, new_connections: bool = False) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// URL, got {url!r}")
        self.host, self.port, self.path = parts.hostname, parts.port or 80, parts.path or "/"
        self.new_connections = new_connections
        self._local = threading.local()

    def post(self, body: bytes) -> tuple[int, bytes]:
        """Status and body. A kept-alive connection the server closed meanwhile is reopened once."""
        headers = {"Content-Type": "application/json"}
        if self.new_connections:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            try:
                conn.request("POST", self.path, body=body, headers={**headers, "Connection": "close"})
                response = conn.getresponse()
                return response.status, response.read()
            finally:
                conn.close()
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1)
            try:
                conn.request("POST", self.path, body=body, headers=headers)
                if QUICKACK is not None and conn.sock is not None:
                    conn.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close this thread's kept-alive connection, if any."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            self._local.conn = conn
        return conn


def run_load(
    send: Callable[[bytes], tuple[int, bytes]],
    bodies: Sequence[Body],
    requests: int,
    concurrency: int,
    on_thread_end: Callable[[], None] | None = None,
    pause_s: float = 0.0,
) -> LoadResult:
    """Send `requests` bodies (cycling through `bodies`) from `concurrency` threads; every answer is checked. Each
    thread waits `pause_s` before each request (not timed): an instance that idles between invocations."""
    if requests < 1 or concurrency < 1 or not bodies:
        raise ValueError(f"need requests >= 1, concurrency >= 1, bodies; got {requests}, {concurrency}, {len(bodies)}")
    result = LoadResult(requests, concurrency, bodies[0].n_texts)
    lock = threading.Lock()
    next_index = iter(range(requests))

    def worker() -> None:
        try:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                body = bodies[index % len(bodies)]
                if pause_s > 0:
                    time.sleep(pause_s)
                started = time.perf_counter()
                try:
                    status, raw = send(body.payload)
                    problem = check_answer(status, raw, body.n_texts)
                except Exception as err:  # any failure to get an answer is an error of this request, not a crash
                    problem = f"{type(err).__name__}: {err}"
                elapsed = time.perf_counter() - started
                with lock:
                    if problem is None:
                        result.latencies_s.append(elapsed)
                    else:
                        result.errors += 1
                        if len(result.error_samples) < MAX_KEPT_ERRORS:
                            result.error_samples.append(problem)
        finally:
            if on_thread_end is not None:
                on_thread_end()

    threads = [threading.Thread(target=worker, name=f"load-{i}") for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - started
    return result


def run_http_load(
    url: str, bodies: Sequence[Body], requests: int, concurrency: int, new_connections: bool = False
) -> LoadResult:
    """`run_load` against an HTTP endpoint."""
    target = HttpTarget(url, new_connections)
    return run_load(target.post, bodies, requests, concurrency, on_thread_end=target.close)
