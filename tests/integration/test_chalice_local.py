"""The real Chalice dev server (`chalice local`, what `make serve` runs) on the session's smoke bundle, over HTTP.

A free loopback port is chosen at run time; readiness is polled on /health; the server is stopped by its PID.
Its stdout must carry the JSON prediction lines, as Lambda's stdout would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.chalice_local import Server, chalice_local

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(smoke_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with chalice_local(smoke_bundle, tmp_path_factory.mktemp("chalice_local") / "stdout.log") as running:
        yield running


def test_health(server: Server, smoke_bundle: Path) -> None:
    manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    assert server.request("GET", "/health") == (
        200,
        {"status": "ok", "model_loaded": True, "model_version": manifest["model_version"]},
    )


def test_predict_single_and_batch_with_their_log_lines(server: Server) -> None:
    status, single = server.post({"text": "The cat sat on the mat."})
    assert status == 200
    assert len(single["predictions"]) == 1
    assert single["predictions"][0]["label"] in ("acceptable", "unacceptable")

    texts = ["The more you eat, the fatter you get.", "Them left.", "emoji 😀 and עברית"]
    status, batch = server.post({"texts": texts})
    assert status == 200
    assert len(batch["predictions"]) == 3
    assert batch["model_version"] == single["model_version"]

    time.sleep(0.2)  # the server flushes each line; give the file a moment
    logged = [line for line in server.stdout_lines() if line.get("type") == "prediction"]
    mine = [line for line in logged if line["request_id"] == batch["request_id"]]
    assert [line["index"] for line in mine] == [0, 1, 2]
    assert all(line["batch_size"] == 3 and line["model_version"] == batch["model_version"] for line in mine)
    assert "text" not in mine[0]
    assert [line["request_id"] for line in logged].count(single["request_id"]) == 1


def test_client_errors(server: Server) -> None:
    status, payload = server.request("POST", "/predict", b"{not json")
    assert (status, payload["error"]["code"]) == (400, "invalid_json")
    form = "application/x-www-form-urlencoded"
    status, payload = server.request("POST", "/predict", b"text=hello", content_type=form)
    assert (status, payload["error"]["code"]) == (415, "unsupported_media_type")
    status, payload = server.post({"texts": ["a sentence"] * 65})
    assert (status, payload["error"]["code"]) == (413, "too_many_items")
    status, payload = server.post({"text": "   "})
    assert (status, payload["error"]["code"]) == (422, "empty_text")
    status, payload = server.request("DELETE", "/predict")
    assert (status, payload["error"]["code"]) == (405, "method_not_allowed")
    status, payload = server.request("GET", "/no-such-route")
    assert (status, payload) == (403, {"message": "Missing Authentication Token"})


def test_model_and_openapi(server: Server) -> None:
    status, model = server.request("GET", "/model")
    assert status == 200
    assert model["limits"]["max_batch"] == 64
    status, document = server.request("GET", "/openapi.json")
    assert status == 200
    assert set(document["paths"]) == {"/predict", "/health", "/model", "/openapi.json"}
