"""The local monitoring path: `make serve`'s log → CloudWatch-shaped events → the shipper → Elasticsearch.

Everything is real: `make ship-local` and `python -m monitoring.elastic.ship_local` run as processes against a noida-db
Elasticsearch-API server, and the end-to-end test starts `chalice local` (what `make serve` runs) on the session's
smoke bundle, sends it requests, and ships what it printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.chalice_local import chalice_local as start_chalice_local
from devtools.processes import free_port
from tests.conftest import ROOT
from tests.support.cloudwatch_lines import as_stored, json_line, prediction_line
from tests.support.es_server import EsServer

pytestmark = pytest.mark.integration

VENV = Path(sys.executable).parent.parent
MAKE = ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), f"VENV={VENV}", "STAMP="]
SERVE_LOG = [
    "Serving on http://127.0.0.1:8000\n",
    json_line(prediction_line("The cat sat.", p_acceptable=0.9)),
    json_line(prediction_line("Cat the sat.", p_acceptable=0.2)),
    '127.0.0.1 - - [26/Nov/2026 07:02:52] "POST /predict HTTP/1.1" 200 -\n',
    json_line({"type": "error", "code": "model_unavailable", "message": "no bundle", "request_id": None}),
]


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300, check=False)


def totals(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr + done.stdout
    answer: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    return answer


def test_make_ship_local_ships_a_serve_log_and_a_second_run_adds_nothing(es: EsServer, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    log.write_text("".join(SERVE_LOG))
    first = totals(run([*MAKE, "-s", "ship-local", f"LOG={log}", f"ES_URL={es.url}"]))
    assert first["events"] == 5
    assert first["documents"] == {"predictions": 2, "platform": 0, "app_logs": 3}
    assert (first["created"], first["duplicates"]) == (5, 0)
    again = totals(run([*MAKE, "-s", "ship-local", f"LOG={log}", f"ES_URL={es.url}"]))
    assert (again["created"], again["duplicates"]) == (0, 5)
    assert es.request("POST", "/predictions-*/_count")["count"] == 2  # refreshed by ship_local
    assert es.request("POST", "/app-logs-*/_count")["count"] == 3


def test_standard_input_in_small_batches(es: EsServer) -> None:
    command = [
        sys.executable,
        "-m",
        "monitoring.elastic.ship_local",
        "--log",
        "-",
        "--es-url",
        es.url,
        "--batch-size",
        "2",
    ]
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=ROOT, env=environ, input="".join(SERVE_LOG), capture_output=True, text=True, timeout=120
    )
    assert totals(done)["invocations"] == 3


def test_a_missing_log_file_says_how_to_make_one(es: EsServer, tmp_path: Path) -> None:
    done = run(
        [sys.executable, "-m", "monitoring.elastic.ship_local", "--log", str(tmp_path / "nope.log"), "--es-url", es.url]
    )
    assert done.returncode == 1
    assert "no log file at" in done.stderr
    assert "make serve | tee" in done.stderr


def test_an_unreachable_elasticsearch_fails_clearly(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    log.write_text("".join(SERVE_LOG))
    url = f"http://127.0.0.1:{free_port()}"
    done = run(
        [sys.executable, "-m", "monitoring.elastic.ship_local", "--log", str(log), "--es-url", url],
        ES_MAX_RETRIES="1",
        ES_RETRY_BACKOFF_S="0.01",
    )
    assert done.returncode == 1
    assert f"ship-local: Elasticsearch at {url} is unavailable after 2 attempts" in done.stderr


@pytest.fixture
def chalice_local(smoke_bundle: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`chalice local` on the smoke bundle (as `make serve` runs it); its stdout goes to a file."""
    with start_chalice_local(smoke_bundle, tmp_path / "serve.log") as server:
        yield server.base_url, server.stdout_path


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url + "/predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
    return result


@pytest.mark.slow
def test_serve_then_ship_then_search(chalice_local: tuple[str, Path], es: EsServer) -> None:
    url, log = chalice_local
    assert run([*MAKE, "-s", "es-setup", f"ES_URL={es.url}"]).returncode == 0
    texts = ["The more you eat, the fatter you get.", "Them left.", "emoji 😀 and עברית", "She voted for herself."]
    answers = [post(url, {"texts": texts[:2]}), post(url, {"texts": texts[2:]})]
    time.sleep(0.3)  # the server flushes each line; give the file a moment
    logged = [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"log_schema"')]
    predictions = [line for line in logged if line["type"] == "prediction"]
    assert len(predictions) == 4

    shipped = totals(
        run([sys.executable, "-m", "monitoring.elastic.ship_local", "--log", str(log), "--es-url", es.url])
    )
    assert shipped["documents"]["predictions"] == 4
    assert shipped["documents"]["app_logs"] >= 1  # chalice local's own lines ("Serving on ...", access log)
    hits = es.request("POST", "/predictions-*/_search", {"size": 10, "sort": [{"@timestamp": "asc"}, {"index": "asc"}]})
    sources = [hit["_source"] for hit in hits["hits"]["hits"]]
    assert [{k: s[k] for k in line} for s, line in zip(sources, predictions, strict=True)] == [
        as_stored(line) for line in predictions
    ]
    assert {s["request_id"] for s in sources} == {a["request_id"] for a in answers}
    labels = es.request("POST", "/predictions-*/_search", {"size": 0, "aggs": {"l": {"terms": {"field": "label"}}}})
    served = [p["label"] for a in answers for p in a["predictions"]]
    assert {b["key"]: b["doc_count"] for b in labels["aggregations"]["l"]["buckets"]} == {
        label: served.count(label) for label in set(served)
    }


@pytest.mark.slow
def test_serve_then_ship_then_report(
    chalice_local: tuple[str, Path], es: EsServer, smoke_bundle: Path, tmp_path: Path
) -> None:
    """The whole local monitoring path: chalice local → its log → shipper → Elasticsearch → drift report."""
    url, log = chalice_local
    assert run([*MAKE, "-s", "es-setup", f"ES_URL={es.url}"]).returncode == 0
    sentences = [line.split("\t")[3] for line in (ROOT / "data/cola/raw/in_domain_dev.tsv").read_text().splitlines()]
    for start in range(0, 240, 16):  # the reference's own sentences: no drift expected
        post(url, {"texts": sentences[start : start + 16]})
    time.sleep(0.3)
    assert (
        run([sys.executable, "-m", "monitoring.elastic.ship_local", "--log", str(log), "--es-url", es.url]).returncode
        == 0
    )
    settings = tmp_path / "monitoring.yaml"
    settings.write_text("signals:\n  latency_p95_ms: {warn: 60000, alert: 120000}\n")  # a busy CI box is not drift
    out = tmp_path / "report.html"
    command = [sys.executable, "-m", "monitoring.drift.report", "--bundle", str(smoke_bundle), "--es-url", es.url]
    report = subprocess.run(
        [*command, "--out", str(out), "--config", str(settings)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["source"]["predictions"] == 240, summary["source"]
    assert (
        summary["bundle"]["model_version"] == json.loads((smoke_bundle / "manifest.json").read_text())["model_version"]
    )
    assert summary["status"] in {"OK", "WARN"}, (summary, report.stderr)
    assert report.returncode == 0, report.stderr
    assert "<img" in out.read_text()
