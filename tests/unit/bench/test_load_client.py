"""The load generator against a real HTTP server on a free loopback port (stdlib, started in a thread here).

The server answers like /predict (one prediction per text) unless told to fail; each test checks what the client
counts: successes with their latencies, errors with their reasons, and that every request is accounted for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bench.load import exit_status
from bench.load_client import (
    Body,
    batch_bodies,
    check_answer,
    percentile,
    run_http_load,
    run_load,
    single_bodies,
)
from devtools.processes import free_port


class PredictServer:
    """A ThreadingHTTPServer whose POST answers `{"predictions": [...]}`, or `status` when set."""

    def __init__(self, protocol: str = "HTTP/1.1") -> None:
        self.status = 200
        self.extra_predictions = 0
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                n = len(payload["texts"]) if "texts" in payload else 1
                server.requests += 1
                body = json.dumps({"predictions": [{"label": "acceptable"}] * (n + server.extra_predictions)})
                raw = body.encode() if server.status == 200 else b'{"error": {"code": "internal_error"}}'
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/predict"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[PredictServer]:
    srv = PredictServer()
    yield srv
    srv.close()


SENTENCES = [f"Sentence number {i}." for i in range(10)]


def test_every_request_is_sent_checked_and_timed(server: PredictServer) -> None:
    result = run_http_load(server.url, single_bodies(SENTENCES), requests=57, concurrency=4)
    summary = result.summary()
    assert (summary["ok"], summary["errors"], server.requests) == (57, 0, 57)
    assert len(result.latencies_s) == 57
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["requests_per_s"] > 0
    assert summary["texts_per_s"] == summary["requests_per_s"]


def test_batch_bodies_need_as_many_predictions_as_texts(server: PredictServer) -> None:
    result = run_http_load(server.url, batch_bodies(SENTENCES, 32), requests=6, concurrency=2)
    assert (result.errors, result.texts_per_request) == (0, 32)
    server.extra_predictions = 1
    result = run_http_load(server.url, batch_bodies(SENTENCES, 32), requests=6, concurrency=2)
    assert result.errors == 6
    assert result.error_samples[0] == "HTTP 200 with 33 predictions for 32 texts sent"


def test_server_errors_are_counted_not_timed(server: PredictServer) -> None:
    server.status = 500
    result = run_http_load(server.url, single_bodies(SENTENCES), requests=12, concurrency=3)
    assert (result.errors, result.latencies_s) == (12, [])
    assert len(result.error_samples) == 5  # the first few, verbatim
    assert result.error_samples[0].startswith("HTTP 500")
    assert "p50_ms" not in result.summary()


def test_a_server_that_is_not_there_gives_errors_not_a_crash() -> None:
    url = f"http://127.0.0.1:{free_port()}/predict"
    result = run_http_load(url, single_bodies(SENTENCES), requests=5, concurrency=2)
    assert result.errors == 5
    assert "ConnectionRefusedError" in result.error_samples[0]


def test_kept_alive_connections_survive_a_server_that_closes_every_connection() -> None:
    srv = PredictServer(protocol="HTTP/1.0")  # closes the connection after every answer
    try:
        result = run_http_load(srv.url, single_bodies(SENTENCES), requests=20, concurrency=2)
    finally:
        srv.close()
    assert (result.errors, len(result.latencies_s)) == (0, 20)


def test_a_new_connection_per_request_works_too(server: PredictServer) -> None:
    result = run_http_load(server.url, single_bodies(SENTENCES), requests=15, concurrency=3, new_connections=True)
    assert (result.errors, len(result.latencies_s), server.requests) == (0, 15, 15)


def test_an_exception_in_the_sender_is_an_error_of_that_request() -> None:
    calls = []

    def send(body: bytes) -> tuple[int, bytes]:
        calls.append(body)
        if len(calls) % 2:
            raise RuntimeError("handler failed")
        return 200, json.dumps({"predictions": [{}]}).encode()

    result = run_load(send, [Body(b"{}", 1)], requests=10, concurrency=1)
    assert (result.errors, len(result.latencies_s)) == (5, 5)
    assert result.error_samples[0] == "RuntimeError: handler failed"


def test_a_pause_before_each_request_is_not_timed() -> None:
    def send(body: bytes) -> tuple[int, bytes]:
        return 200, json.dumps({"predictions": [{}]}).encode()

    result = run_load(send, [Body(b"{}", 1)], requests=5, concurrency=1, pause_s=0.02)
    assert result.errors == 0
    assert max(result.latencies_s) < 0.02  # the answers are instant; the pauses are not in them
    assert result.wall_s >= 5 * 0.02


@pytest.mark.parametrize(
    ("status", "raw", "problem"),
    [
        (200, b'{"predictions": [{}]}', None),
        (422, b'{"error": {}}', "HTTP 422"),
        (200, b"not json", "without a predictions list"),
        (200, b'{"predictions": {}}', "not a list"),
        (200, b'{"predictions": []}', "0 predictions for 1 texts"),
    ],
)
def test_check_answer(status: int, raw: bytes, problem: str | None) -> None:
    found = check_answer(status, raw, 1)
    assert found is None if problem is None else problem in str(found)


def test_percentile_interpolates_between_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_batches_wrap_around_the_sentences() -> None:
    bodies = batch_bodies(["a", "b", "c"], 4)
    assert len(bodies) == 1
    assert json.loads(bodies[0].payload) == {"texts": ["a", "b", "c", "a"]}
    assert [json.loads(b.payload) for b in single_bodies(["x"])] == [{"text": "x"}]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="concurrency >= 1"):
        run_load(lambda body: (200, b""), [Body(b"{}", 1)], requests=1, concurrency=0)
    with pytest.raises(ValueError, match="http:// URL"):
        run_http_load("https://example.invalid/predict", single_bodies(["x"]), 1, 1)


def test_the_run_fails_when_any_request_failed() -> None:
    clean = {"http": [{"errors": 0}, {"errors": 0}], "container": {"rows": [{"errors": 0}]}}
    assert exit_status(clean) == 0
    assert exit_status({**clean, "container": {"rows": [{"errors": 2}]}}) == 1
    assert exit_status({"http": [{"errors": 1}], "container_skipped": "--no-container"}) == 1
