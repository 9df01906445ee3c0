"""OpenSearch (Amazon OpenSearch Service) as the shipper's, es-setup's and the drift report's server: osmem-server
(an OpenSearch 3.x API emulator, tests/support/os_server.py) behind a proxy that answers as the managed service
does (tests/support/es_fault_proxy.py with `opensearch=True`): it checks every request's SigV4 signature with
botocore's own SigV4 code for the endpoint's region and service (403 otherwise, as AWS answers) and sends no
X-Elastic-Product header (osmem-server sends one; OpenSearch does not).

The signature is made by opensearch-py's Urllib3AWSV4SignerAuth with test credentials from the environment, as the
function's role credentials are on Lambda. The checker is shown to refuse an unsigned request, a signature scoped to
another region or service, and a changed body; and the Elasticsearch client to refuse OpenSearch (its product check),
which is why a second client is needed and why the settings refuse to pair them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import elasticsearch
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper.es_writer import EsRequestError
from chalice_app.chalicelib.shipper.handler import Shipper, ShipResult, create_client, ship
from chalice_app.chalicelib.shipper.opensearch_api import opensearch_client
from chalice_app.chalicelib.shipper.settings import ShipperSettings
from monitoring.drift.config import load_config
from monitoring.drift.report import main as report_main
from monitoring.drift.sources import SourceError, read_elasticsearch, window_ending
from monitoring.elastic import es_setup
from monitoring.elastic.index_templates import FAMILIES, index_template
from tests.conftest import ROOT
from tests.support.cloudwatch_lines import event_id, invocation, json_line, prediction_line, subscription
from tests.support.es_fault_proxy import EsFaultProxy
from tests.support.es_server import EsServerError
from tests.support.os_server import OsServer
from tests.support.prediction_logs import log_lines, reference_predictions, write_reference_bundle
from tests.support.sigv4_check import SigV4Check

pytestmark = pytest.mark.integration

REGION, SERVICE = "eu-west-1", "es"
KEY_ID, SECRET = "AKIDOPENSEARCHTEST01", "opensearch-test-secret-key/0123456789abcdef"
PREFIXES = {"predictions": "predictions", "platform": "platform", "app_logs": "app-logs"}


@pytest.fixture
def role_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test credentials where Lambda puts the role's (botocore's environment provider reads them)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture
def domain(opensearch: OsServer, role_credentials: None) -> Iterator[EsFaultProxy]:
    """An "Amazon OpenSearch Service domain": osmem-server behind the SigV4 check and without the ES product header."""
    proxy = EsFaultProxy(opensearch.url, opensearch=True, sigv4=SigV4Check(REGION, SERVICE, KEY_ID, SECRET))
    try:
        yield proxy
    finally:
        proxy.close()


def settings_for(url: str, **overrides: Any) -> ShipperSettings:
    values = {"backend": "opensearch", "sigv4_region": REGION, "retry_backoff_s": 0.01, "timeout_s": 5.0}
    return ShipperSettings(es_url=url, **{**values, **overrides})


def count(server: OsServer, pattern: str, query: dict[str, Any] | None = None) -> int:
    server.request("POST", f"/{pattern}/_refresh")
    return int(server.request("POST", f"/{pattern}/_count", {"query": query} if query else None)["count"])


def signed(
    url: str, method: str, body: bytes, region: str, service: str, secret: str = SECRET
) -> urllib.request.Request:
    """A request signed by botocore for `region`/`service` (what a misconfigured client would send)."""
    aws = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(KEY_ID, secret), service, region).add_auth(aws)
    return urllib.request.Request(url, data=body or None, method=method, headers=dict(aws.headers.items()))


def status_of(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class TestTheSignatureCheck:
    def test_a_correctly_signed_request_is_forwarded(self, domain: EsFaultProxy) -> None:
        status, body = status_of(signed(domain.url + "/", "GET", b"", REGION, SERVICE))
        assert status == 200
        assert json.loads(body)["version"]["distribution"] == "opensearch"
        assert domain.verified == 1

    def test_an_unsigned_request_is_refused(self, domain: EsFaultProxy) -> None:
        status, body = status_of(urllib.request.Request(domain.url + "/_cat/indices"))
        assert status == 403
        assert "anonymous is not authorized" in json.loads(body)["message"]

    @pytest.mark.parametrize(
        ("region", "service", "secret", "message"),
        [
            ("us-east-1", SERVICE, SECRET, "Credential should be scoped to a valid region"),
            (REGION, "aoss", SECRET, "Credential should be scoped to correct service: 'es'"),
            (REGION, SERVICE, "a-wrong-secret", "signature we calculated does not match"),
        ],
        ids=["other-region", "other-service", "wrong-secret"],
    )
    def test_a_wrongly_scoped_or_wrong_signature_is_refused(
        self, domain: EsFaultProxy, region: str, service: str, secret: str, message: str
    ) -> None:
        status, body = status_of(signed(domain.url + "/", "GET", b"", region, service, secret))
        assert status == 403
        assert message in json.loads(body)["message"]
        assert domain.verified == 0

    def test_a_body_changed_after_signing_is_refused(self, domain: EsFaultProxy) -> None:
        request = signed(domain.url + "/cola/_search", "POST", b'{"size": 1}', REGION, SERVICE)
        request.data = b'{"size": 9}'
        status, body = status_of(request)
        assert status == 403
        assert "does not match" in json.loads(body)["message"]


class TestTheWrongClient:
    def test_the_elasticsearch_client_refuses_an_opensearch_server(self, opensearch: OsServer) -> None:
        honest = EsFaultProxy(opensearch.url, opensearch=True)  # osmem-server's own answers claim Elasticsearch
        try:
            with pytest.raises(elasticsearch.UnsupportedProductError):
                elasticsearch.Elasticsearch(honest.url).info()
        finally:
            honest.close()

    def test_each_tool_says_to_set_search_backend_when_pointed_at_opensearch(self, opensearch: OsServer) -> None:
        """The shipper, es-setup and the drift report with the default backend against an (honest) OpenSearch."""
        honest = EsFaultProxy(opensearch.url, opensearch=True)
        try:
            settings = ShipperSettings(es_url=honest.url, max_retries=0)
            with pytest.raises(EsRequestError, match="set SEARCH_BACKEND=opensearch"):
                ship(realistic_batch(), settings, create_client(settings))
            with pytest.raises(es_setup.SetupError, match="set SEARCH_BACKEND=opensearch"):
                es_setup.connect(honest.url, None, 5.0)
            window = window_ending(datetime.now(UTC), "1h")
            with pytest.raises(SourceError, match="set SEARCH_BACKEND=opensearch"):
                read_elasticsearch(honest.url, None, load_config().elasticsearch, window)
        finally:
            honest.close()

    def test_the_elasticsearch_clients_media_type_is_refused_by_opensearch(self, opensearch: OsServer) -> None:
        request = urllib.request.Request(opensearch.url + "/_bulk", data=b'{"create":{"_index":"x"}}\n{}\n')
        request.add_header("Content-Type", "application/vnd.elasticsearch+x-ndjson; compatible-with=8")
        status, body = status_of(request)
        assert status == 406
        assert "is not supported" in body

    @pytest.mark.parametrize(
        ("settings", "message"),
        [
            ({"es_url": "https://search-cola-abc.eu-west-1.es.amazonaws.com"}, "set SEARCH_BACKEND=opensearch"),
            ({"es_url": "https://es.example", "auth": "sigv4"}, "set SEARCH_BACKEND=opensearch"),
            ({"es_url": "https://os.example", "backend": "opensearch", "api_key": "k"}, "no Elasticsearch API keys"),
            ({"es_url": "https://os.example", "backend": "opensearch"}, "set ES_SIGV4_REGION"),
            (
                {"es_url": "https://x.us-east-1.aoss.amazonaws.com", "backend": "opensearch", "sigv4_region": REGION},
                "ES_SIGV4_REGION=us-east-1 and ES_SIGV4_SERVICE=aoss",
            ),
            ({"es_url": "https://os.example", "backend": "opensearch", "auth": "basic"}, "ES_AUTH=basic needs"),
        ],
    )
    def test_settings_refuse_pairings_that_cannot_work(self, settings: dict[str, Any], message: str) -> None:
        with pytest.raises(SettingsError, match=message):
            ShipperSettings(**settings)


def test_es_setup_installs_the_templates_and_reports_the_missing_ism_api(
    domain: EsFaultProxy, opensearch: OsServer
) -> None:
    summary = es_setup.install(es_setup.connect(domain.url, None, 10.0, settings_for(domain.url)), PREFIXES)
    assert summary["backend"] == "opensearch"
    assert summary["retention"].startswith("skipped: this server has no ISM API (HTTP 400)")
    for family, spec in FAMILIES.items():
        stored = opensearch.request("GET", f"/_index_template/{spec['name']}")["index_templates"][0]["index_template"]
        assert stored["template"]["mappings"] == index_template(family)["template"]["mappings"]
        assert "lifecycle" not in json.dumps(stored["template"].get("settings", {}))
    assert domain.verified >= 4
    assert domain.refused == []


def test_an_elasticsearch_lifecycle_setting_is_refused_by_opensearch(opensearch: OsServer) -> None:
    """Why the OpenSearch templates carry no index.lifecycle.name (the ISM policy's ism_template attaches instead)."""
    with pytest.raises(EsServerError, match=r"unknown setting \[index\.lifecycle\.name\]"):
        opensearch.request("PUT", "/_index_template/cola-predictions", index_template("predictions"))


def realistic_batch() -> dict[str, Any]:
    first = [prediction_line(f"Sentence {i}.", p_acceptable=0.2 + 0.3 * i, index=i, batch_size=2) for i in range(2)]
    error = {"log_schema": 1, "type": "error", "timestamp": "2026-11-26T07:02:55.000Z", "level": "ERROR"}
    return subscription([*invocation("r-1", first, init_ms=251.07), "a raw line\n", json_line(error)])


@pytest.fixture
def installed(domain: EsFaultProxy) -> EsFaultProxy:
    es_setup.install(es_setup.connect(domain.url, None, 10.0, settings_for(domain.url)), PREFIXES)
    return domain


def run(url: str, event: dict[str, Any], **overrides: Any) -> ShipResult:
    settings = settings_for(url, **overrides)
    return ship(event, settings, create_client(settings), sleep=lambda _: None)


def test_the_shipper_writes_signed_requests_and_a_redelivery_adds_nothing(
    installed: EsFaultProxy, opensearch: OsServer
) -> None:
    first = run(installed.url, realistic_batch())
    assert first.documents == {"predictions": 2, "platform": 3, "app_logs": 2}
    assert (first.created, first.duplicates, first.failed) == (7, 0, 0)
    again = run(installed.url, realistic_batch())
    assert (again.created, again.duplicates) == (0, 7)
    assert count(opensearch, "predictions-*") == 2
    assert count(opensearch, "app-logs-*", {"term": {"record_kind": "raw"}}) == 1
    assert installed.refused == []


def test_a_document_the_mapping_refuses_is_kept_in_app_logs(installed: EsFaultProxy, opensearch: OsServer) -> None:
    """An outdated template (without unknown_token_rate): OpenSearch refuses the predictions for good (strict
    mapping, 400), so each is kept in app-logs as "unindexable" with the reason, and the batch succeeds."""
    outdated = index_template("predictions", lifecycle=None)
    del outdated["template"]["mappings"]["properties"]["unknown_token_rate"]
    opensearch.request("PUT", "/_index_template/cola-predictions", outdated)
    result = run(installed.url, realistic_batch())
    assert (result.created, result.unindexable, result.failed) == (5, 2, 0)
    assert count(opensearch, "predictions-*") == 0
    assert count(opensearch, "app-logs-*", {"term": {"record_kind": "unindexable"}}) == 2


def test_items_answered_429_are_retried_until_stored(installed: EsFaultProxy, opensearch: OsServer) -> None:
    installed.reject_items([event_id(1)], times=2)
    result = run(installed.url, realistic_batch())
    assert (result.created, result.failed, result.retries) == (7, 0, 2)
    assert count(opensearch, "predictions-*,platform-*,app-logs-*") == 7


def test_a_wrong_secret_is_refused_at_once_and_read_again(
    installed: EsFaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """403 from AWS (a role whose credentials no longer match): no retries; the Shipper reloads once, then fails."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rotated-away")
    settings = settings_for(installed.url)
    with pytest.raises(EsRequestError, match=r"OpenSearch at .* refused the bulk request: 403") as refused:
        ship(realistic_batch(), settings, create_client(settings), sleep=lambda _: None)
    assert refused.value.status == 403
    loads: list[ShipperSettings] = []

    def load() -> ShipperSettings:
        loads.append(settings)
        return settings

    shipper = Shipper(load_settings=load)
    with pytest.raises(EsRequestError):
        shipper.handle(realistic_batch())
    assert len(loads) == 2  # read again once after the 403, as after a rotated API key


def test_the_lambda_reads_the_backend_from_its_environment(installed: EsFaultProxy, opensearch: OsServer) -> None:
    env = {"ES_URL": installed.url, "SEARCH_BACKEND": "opensearch", "AWS_REGION": REGION, "ES_MAX_RETRIES": "0"}
    shipper = Shipper(load_settings=lambda: ShipperSettings.from_env(env))
    summary = shipper.handle(realistic_batch())
    assert summary["created"] == 7
    assert installed.verified > 0


def test_the_drift_report_reads_from_opensearch(
    installed: EsFaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    version = write_reference_bundle(bundle, reference_predictions())
    now = datetime.now(UTC)
    lines = log_lines(reference_predictions()[:60], version, start=now - timedelta(hours=1), step=timedelta(seconds=30))
    client = opensearch_client(settings_for(installed.url))
    operations: list[dict[str, Any]] = []
    for n, line in enumerate(lines):
        index = f"predictions-{line['timestamp'][:10].replace('-', '.')}"
        operations += [{"create": {"_index": index, "_id": f"d{n}"}}, {**line, "@timestamp": line["timestamp"]}]
    client.bulk(body=operations, refresh="true")
    monkeypatch.setenv("SEARCH_BACKEND", "opensearch")
    monkeypatch.setenv("ES_SIGV4_REGION", REGION)
    out = tmp_path / "report.html"
    code = report_main(
        ["--bundle", str(bundle), "--es-url", installed.url, "--out", str(out), "--config", str(small_pages(tmp_path))]
    )
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["source"]["kind"] == "opensearch"
    assert (summary["source"]["read"], summary["source"]["in_window"]) == (60, 60)
    assert code in (0, 1)
    assert installed.refused == []


def small_pages(tmp_path: Path) -> Path:
    """A config overlay with pages of 25, so the read pages through the point in time (60 documents: 3 pages)."""
    path = tmp_path / "monitoring.yaml"
    path.write_text("elasticsearch:\n  page_size: 25\n")
    return path


def test_ship_local_ships_a_serve_log_to_opensearch(installed: EsFaultProxy, opensearch: OsServer) -> None:
    from monitoring.elastic.ship_local import ship_lines

    lines = [json.dumps(prediction_line(f"Local {i}.")) for i in range(3)] + ["Serving on http://127.0.0.1:8000"]
    totals = ship_lines(lines, settings_for(installed.url), fallback_ms=1_795_676_572_000)
    assert (totals["created"], totals["documents"]["predictions"]) == (4, 3)
    assert count(opensearch, "predictions-*") == 3


def test_a_serverless_collection_gets_requests_signed_for_aoss(opensearch: OsServer, role_credentials: None) -> None:
    """OpenSearch Serverless checks signatures for the service aoss (and the body hash header opensearch-py adds)."""
    collection = EsFaultProxy(opensearch.url, opensearch=True, sigv4=SigV4Check(REGION, "aoss", KEY_ID, SECRET))
    try:
        result = run(collection.url, realistic_batch(), sigv4_service="aoss")
        assert result.created == 7
        assert collection.verified >= 1
        assert collection.refused == []
        with pytest.raises(EsRequestError, match="403"):
            run(collection.url, realistic_batch(), sigv4_service="es")  # a domain's scope: refused
        assert "Credential should be scoped to correct service: 'aoss'" in collection.refused[-1]
    finally:
        collection.close()


def test_make_es_setup_on_opensearch_reads_the_backend_from_the_environment(domain: EsFaultProxy) -> None:
    """`make es-setup ES_URL=... SEARCH_BACKEND=opensearch ES_SIGV4_REGION=...` with the caller's AWS credentials."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "AWS_SHARED_CREDENTIALS_FILE": "/none"}
    env.update(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_CONFIG_FILE="/none")
    make = ["make", "--no-print-directory", f"VENV={Path(sys.executable).parent.parent}", "STAMP="]
    done = subprocess.run(
        [*make, "es-setup", f"ES_URL={domain.url}", "SEARCH_BACKEND=opensearch", f"ES_SIGV4_REGION={REGION}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OpenSearch 3." in done.stderr
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    assert summary["backend"] == "opensearch"
    assert summary["retention"].startswith("skipped: this server has no ISM API")
    assert domain.refused == []
    assert domain.verified >= 4
