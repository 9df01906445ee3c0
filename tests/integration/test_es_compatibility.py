"""Elasticsearch 8.x and 9.x both accept what the project sends: the shipper, es-setup and the drift report run
through a proxy that enforces each major's REST API compatibility rule (tests/support/es_fault_proxy.py), in front
of the real noida-db server, which checks no headers itself.

The rule is checked first on its own and on the headers the Python clients send: the 9.x client's
`compatible-with=9` is refused by an 8.x server (elastic/elasticsearch-py#2923: "Accept version must be either
version 8 or 7, but found 9"), the 8.x client's `compatible-with=8` is accepted by 8.x and 9.x.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import elasticsearch
import pytest
from elasticsearch import Elasticsearch, helpers

from chalice_app.chalicelib.shipper.handler import create_client, ship
from chalice_app.chalicelib.shipper.settings import ShipperSettings
from monitoring.drift.report import main as report_main
from monitoring.elastic import es_setup
from tests.support.cloudwatch_lines import invocation, prediction_line, subscription
from tests.support.es_fault_proxy import EsFaultProxy, compatibility_problem
from tests.support.es_server import EsServer
from tests.support.prediction_logs import log_lines, reference_predictions, write_reference_bundle

pytestmark = pytest.mark.integration

CLIENT_9 = "application/vnd.elasticsearch+json; compatible-with=9"
CLIENT_8 = "application/vnd.elasticsearch+json; compatible-with=8"
CLIENT_7 = "application/vnd.elasticsearch+json; compatible-with=7"
PREFIXES = {"predictions": "predictions", "platform": "platform", "app_logs": "app-logs"}


class TestTheRule:
    @pytest.mark.parametrize(
        ("major", "accept", "content_type", "refused"),
        [
            (8, CLIENT_9, CLIENT_9, "Accept version must be either version 8 or 7, but found 9"),
            (8, CLIENT_8, CLIENT_8, None),
            (8, CLIENT_7, CLIENT_7, None),
            (9, CLIENT_9, CLIENT_9, None),
            (9, CLIENT_8, CLIENT_8, None),
            (9, CLIENT_7, CLIENT_7, "Accept version must be either version 9 or 8, but found 7"),
            (8, "application/json", "application/json", None),
            (8, CLIENT_8, "application/json", "compatible versions must match"),
            (9, "application/json", CLIENT_9, "compatible versions must match"),
        ],
    )
    def test_each_major_accepts_its_own_and_the_previous_version(
        self, major: int, accept: str, content_type: str, refused: str | None
    ) -> None:
        problem = compatibility_problem(accept, content_type, has_body=True, major=major)
        assert (problem is None) == (refused is None)
        if refused:
            assert refused in str(problem)

    def test_a_request_without_a_body_needs_only_a_valid_accept(self) -> None:
        assert compatibility_problem(CLIENT_8, None, has_body=False, major=9) is None
        assert compatibility_problem(CLIENT_9, None, has_body=False, major=8) is not None

    def test_the_pinned_client_sends_the_header_both_majors_accept(self) -> None:
        assert elasticsearch.__versionstr__.startswith("8.")
        for major in (8, 9):
            assert compatibility_problem(CLIENT_8, CLIENT_8, has_body=True, major=major) is None


@pytest.fixture(params=[8, 9], ids=["es8", "es9"])
def gate(request: pytest.FixtureRequest, es: EsServer) -> Iterator[EsFaultProxy]:
    """noida-db behind the compatibility rule of Elasticsearch `major`."""
    proxy = EsFaultProxy(es.url, major=request.param)
    try:
        yield proxy
    finally:
        proxy.close()


def test_an_8x_server_refuses_what_the_9x_client_sends(es: EsServer) -> None:
    proxy = EsFaultProxy(es.url, major=8)
    try:
        request = urllib.request.Request(proxy.url + "/_bulk", data=b'{"create": {"_index": "x"}}\n{}\n', method="POST")
        request.add_header("Accept", CLIENT_9)
        request.add_header("Content-Type", "application/vnd.elasticsearch+x-ndjson; compatible-with=9")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        body = json.loads(refused.value.read())
        assert refused.value.code == 400
        assert body["error"]["type"] == "media_type_header_exception"
        assert "but found 9" in body["error"]["caused_by"]["reason"]
    finally:
        proxy.close()


def test_es_setup_installs_on_both_majors(gate: EsFaultProxy) -> None:
    installed = es_setup.install(es_setup.connect(gate.url, None, 10.0), PREFIXES)
    assert set(installed["templates"]) >= {"cola-predictions", "cola-platform", "cola-app-logs"}
    assert gate.refused == []


def test_the_shipper_writes_to_both_majors(gate: EsFaultProxy, es: EsServer) -> None:
    es_setup.install(es_setup.connect(gate.url, None, 10.0), PREFIXES)
    lines = [prediction_line(f"Sentence {i}.", index=i, batch_size=2) for i in range(2)]
    settings = ShipperSettings(es_url=gate.url, retry_backoff_s=0.01, timeout_s=5.0)
    result = ship(subscription(invocation("r-1", lines)), settings, create_client(settings))
    assert (result.failed, result.unindexable) == (0, 0)
    assert result.documents["predictions"] == 2
    assert result.created == sum(result.documents.values())
    assert gate.refused == []


def test_the_drift_report_reads_from_both_majors(gate: EsFaultProxy, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    version = write_reference_bundle(bundle, reference_predictions())
    now = datetime.now(UTC)
    documents = [
        {
            "_index": f"predictions-{line['timestamp'][:10].replace('-', '.')}",
            "_source": {**line, "@timestamp": line["timestamp"]},
        }
        for line in log_lines(
            reference_predictions()[:50], version, start=now - timedelta(hours=1), step=timedelta(seconds=30)
        )
    ]
    with Elasticsearch(gate.url) as client:
        helpers.bulk(client, documents, refresh=True)
    out = tmp_path / "report.html"
    code = report_main(["--bundle", str(bundle), "--es-url", gate.url, "--out", str(out)])
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["source"]["read"] == 50
    assert code in (0, 1)
    assert gate.refused == []
