"""The drift report reading its window from a real Elasticsearch-API server (noida-db, tests/support/es_server.py).

Documents are what the log shipper writes to the daily indices predictions-YYYY.MM.DD: a prediction line's fields
plus @timestamp (the line's own time). They are indexed with the official client's bulk helper; the report finds
the window by @timestamp, pages with search_after over a point in time, and computes latency percentiles itself
(noida-db has no percentiles aggregation).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from chalice_app.chalicelib.api.predictor import Prediction
from monitoring.drift.report import main
from tests.support.es_server import EsServer
from tests.support.prediction_logs import drifted_predictions, log_lines, reference_predictions, write_reference_bundle

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("es-report") / "bundle"
    return directory, write_reference_bundle(directory, reference_predictions())


@pytest.fixture
def client(es: EsServer) -> Iterator[Elasticsearch]:
    with Elasticsearch(es.url) as client:
        yield client


def index_predictions(
    client: Elasticsearch, predictions: Sequence[Prediction], version: str, start: datetime, step: timedelta
) -> None:
    """Prediction documents as the shipper writes them, into the daily index of each one's timestamp."""
    documents = []
    for line in log_lines(predictions, version, start=start, step=step):
        day = line["timestamp"][:10].replace("-", ".")
        documents.append({"_index": f"predictions-{day}", "_source": {**line, "@timestamp": line["timestamp"]}})
    indexed, errors = helpers.bulk(client, documents, refresh=True)
    assert (indexed, errors) == (len(documents), [])


def report(bundle: tuple[Path, str], es: EsServer, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["--bundle", str(bundle[0]), "--es-url", es.url, "--out", str(out), *extra])
    return code, json.loads(out.with_suffix(".json").read_text())


def test_an_undrifted_day_across_two_daily_indices_is_ok(
    bundle: tuple[Path, str], es: EsServer, client: Elasticsearch, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    # 600 predictions over the last 20 hours (two calendar days, so two indices at most times of day)
    index_predictions(client, reference_predictions(), bundle[1], now - timedelta(hours=20), timedelta(minutes=2))
    # older drift outside the default 24 h window must not count
    index_predictions(client, drifted_predictions(), bundle[1], now - timedelta(days=3), timedelta(seconds=1))
    code, summary = report(bundle, es, tmp_path / "report.html")
    assert code == 0
    assert summary["status"] == "OK"
    source = summary["source"]
    assert source["kind"] == "elasticsearch"
    assert source["location"] == f"{es.url}/predictions-*"
    assert (source["in_window"], source["read"], source["predictions"]) == (600, 600, 600)
    assert summary["operations"]["latency_p95_ms"] == 2.0


def test_a_drifted_window_alerts(bundle: tuple[Path, str], es: EsServer, client: Elasticsearch, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    index_predictions(client, drifted_predictions(), bundle[1], now - timedelta(hours=5), timedelta(seconds=20))
    code, summary = report(bundle, es, tmp_path / "report.html", "--window", "6h")
    assert code == 1
    assert summary["status"] == "ALERT"
    assert {s["name"]: s["status"] for s in summary["signals"]}["score_psi"] == "ALERT"


def test_pages_through_the_window_and_stops_at_max_records_keeping_the_newest(
    bundle: tuple[Path, str], es: EsServer, client: Elasticsearch, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(hours=2)
    index_predictions(client, reference_predictions(), bundle[1], start, timedelta(seconds=10))  # 600 in 100 min
    config = tmp_path / "small_pages.yaml"
    config.write_text("elasticsearch:\n  page_size: 37\n  max_records: 250\n")
    code, summary = report(bundle, es, tmp_path / "report.html", "--config", str(config), "--window", "3h")
    assert code == 0  # 250 records of an undrifted population: judged, and fine
    source = summary["source"]
    assert (source["in_window"], source["read"], source["predictions"]) == (600, 250, 250)
    # newest first: the last 250 of the 600, one every 10 s
    first = datetime.fromisoformat(summary["operations"]["first"])
    assert abs(first - (start + timedelta(seconds=10 * 350))) < timedelta(milliseconds=1)  # the log keeps ms


def test_an_empty_window_is_insufficient_data(bundle: tuple[Path, str], es: EsServer, tmp_path: Path) -> None:
    code, summary = report(bundle, es, tmp_path / "report.html", "--fail-on", "warn")
    assert code == 0
    assert summary["status"] == "INSUFFICIENT_DATA"
    assert summary["source"]["in_window"] == 0


def test_a_stopped_server_exits_2(
    bundle: tuple[Path, str], es: EsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    es.stop()
    try:
        out = tmp_path / "report.html"
        assert main(["--bundle", str(bundle[0]), "--es-url", es.url, "--out", str(out)]) == 2
        assert f"cannot reach Elasticsearch at {es.url}" in caplog.text
        assert not out.exists()
    finally:
        es.start()
