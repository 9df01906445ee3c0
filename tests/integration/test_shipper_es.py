"""The shipper against a real Elasticsearch-API server (noida-db, tests/support/es_server.py) with the project's
index templates installed: CloudWatch payloads built as CloudWatch builds them, re-delivery, refused documents,
retries, an outage, and the searches the dashboards and the drift report rely on.

Faults a test server cannot produce on demand (429 and 503 answers) come from an HTTP proxy in front of the real
server (tests/support/es_fault_proxy.py); every document that gets through is indexed by the real server.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalice_app.chalicelib.shipper.es_writer import CHUNK_SIZE, DeadlineError, EsRequestError, EsUnavailableError
from chalice_app.chalicelib.shipper.handler import ShipError, Shipper, ShipResult, create_client, ship
from chalice_app.chalicelib.shipper.settings import ShipperSettings
from devtools.cloudwatch_events import control_event
from monitoring.elastic import es_setup
from monitoring.elastic.index_templates import FAMILIES, index_template
from tests.support.cloudwatch_lines import (
    T0,
    as_stored,
    event_id,
    invocation,
    json_line,
    prediction_line,
    subscription,
)
from tests.support.es_fault_proxy import EsFaultProxy
from tests.support.es_server import EsServer, start_es_server

pytestmark = pytest.mark.integration

PREFIXES = {"predictions": "predictions", "platform": "platform", "app_logs": "app-logs"}
RAW = "ctrl \x00\x01\x1b[31m red \x7f ünï 😀 עברית \u2028 \ufeff end"


def settings_for(url: str, **overrides: Any) -> ShipperSettings:
    return ShipperSettings(es_url=url, **{"retry_backoff_s": 0.01, "timeout_s": 5.0, **overrides})


def install_templates(url: str) -> dict[str, Any]:
    return es_setup.install(es_setup.connect(url, None, 10.0), PREFIXES)


def count(es: EsServer, pattern: str, query: dict[str, Any] | None = None) -> int:
    es.request("POST", f"/{pattern}/_refresh")
    body = {"query": query} if query else None
    return int(es.request("POST", f"/{pattern}/_count", body)["count"])


def search(es: EsServer, pattern: str, body: dict[str, Any]) -> dict[str, Any]:
    es.request("POST", f"/{pattern}/_refresh")
    answer: dict[str, Any] = es.request("POST", f"/{pattern}/_search", body)
    return answer


def run(event: dict[str, Any], settings: ShipperSettings, **kwargs: Any) -> ShipResult:
    return ship(event, settings, create_client(settings), **kwargs)


@pytest.fixture
def installed(es: EsServer) -> EsServer:
    """The session's server, emptied, with the index templates installed."""
    install_templates(es.url)
    return es


def realistic_batch() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Two API invocations (a cold one with two predictions, a warm one with one), a raw line, an error line."""
    first = [prediction_line(f"Sentence {i}.", p_acceptable=0.2 + 0.3 * i, index=i, batch_size=2) for i in range(2)]
    second = [prediction_line("Him voted.", p_acceptable=0.1, at=T0 + timedelta(seconds=2), log_raw_text=True)]
    error = {"log_schema": 1, "type": "error", "timestamp": "2026-11-26T07:02:55.000Z", "level": "ERROR"}
    error.update(request_id="r-3", code="internal_error", message="boom", traceback="Traceback ...\nValueError\n")
    messages = [
        *invocation("r-1", first, init_ms=251.07),
        *invocation("r-2", second),
        RAW + "\n",
        json_line(error),
    ]
    return subscription(messages), [*first, *second]


def test_a_realistic_batch_lands_in_its_three_index_families(installed: EsServer) -> None:
    event, predictions = realistic_batch()
    result = run(event, settings_for(installed.url), now=datetime(2026, 11, 26, 8, tzinfo=UTC))
    assert result.documents == {"predictions": 3, "platform": 6, "app_logs": 2}
    assert result.app_log_kinds == {"error": 1, "raw": 1}
    assert (result.created, result.duplicates, result.failed) == (11, 0, 0)
    assert count(installed, "predictions-*") == 3
    assert count(installed, "platform-*") == 6
    assert count(installed, "app-logs-*") == 2

    stored = installed.request("GET", f"/predictions-2026.11.26/_doc/{event_id(1)}")["_source"]
    assert {k: stored[k] for k in predictions[0]} == as_stored(predictions[0])
    assert stored["@timestamp"] == predictions[0]["timestamp"]
    assert stored["ingested_at"] == "2026-11-26T08:00:00.000Z"
    raw = search(installed, "app-logs-*", {"query": {"term": {"record_kind": "raw"}}})["hits"]["hits"]
    assert [hit["_source"]["message"] for hit in raw] == [RAW]
    reports = search(installed, "platform-*", {"query": {"term": {"platform_type": "REPORT"}}})["hits"]["hits"]
    assert sorted(hit["_source"]["cold_start"] for hit in reports) == [False, True]
    assert {hit["_source"]["memory_size_mb"] for hit in reports} == {1024}


def test_a_control_message_writes_nothing(installed: EsServer) -> None:
    result = run(control_event(1_795_676_572_000), settings_for(installed.url))
    assert result.control_message
    assert (result.events, result.created, result.requests) == (1, 0, 0)
    assert installed.request("GET", "/_cat/indices?format=json") == []


def test_redelivery_of_the_same_batch_adds_no_document(installed: EsServer) -> None:
    event, _ = realistic_batch()
    settings = settings_for(installed.url)
    first = run(event, settings)
    again = run(event, settings)
    assert (first.created, first.duplicates) == (11, 0)
    assert (again.created, again.duplicates) == (0, 11)
    assert count(installed, "predictions-*,platform-*,app-logs-*") == 11


def test_a_document_the_mapping_refuses_is_kept_in_app_logs_with_the_reason_and_the_batch_succeeds(
    installed: EsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An outdated template (here: without unknown_token_rate) refuses prediction documents for good (strict
    mapping): retrying cannot help, so each is stored in app-logs as "unindexable" with Elasticsearch's reason and
    the whole document, logged, and the invocation succeeds (Lambda does not retry stored lines into the DLQ).
    After `make es-setup` a re-delivery stores the predictions themselves."""
    outdated = index_template("predictions", lifecycle=None)
    del outdated["template"]["mappings"]["properties"]["unknown_token_rate"]
    installed.request("PUT", "/_index_template/cola-predictions", outdated)
    event, lines = realistic_batch()
    settings = settings_for(installed.url)
    capsys.readouterr()

    result = run(event, settings)
    assert (result.created, result.unindexable, result.failed) == (8, 3, 0)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [line for line in logged if line["type"] == "error"]
    assert len(errors) == 3
    assert all(e["code"] == "document_unindexable" and e["status"] == 400 for e in errors)
    assert all("unknown_token_rate" in e["message"] and e["index"] == "predictions-2026.11.26" for e in errors)
    assert count(installed, "predictions-*") == 0
    kept = search(installed, "app-logs-*", {"query": {"term": {"record_kind": "unindexable"}}, "size": 10})
    documents = [hit["_source"] for hit in kept["hits"]["hits"]]
    assert len(documents) == 3
    assert all("strict_dynamic_mapping_exception" in d["reason"] for d in documents)
    assert sorted(d["line"]["text_sha256"] for d in documents) == sorted(line["text_sha256"] for line in lines)

    setup = install_templates(installed.url)  # what `make es-setup` does: templates and existing indices
    assert setup["updated_indices"]["cola-predictions"] == ["predictions-2026.11.26"]
    again = run(event, settings)
    assert (again.created, again.duplicates, again.failed) == (3, 8, 0)
    assert count(installed, "predictions-*") == 3


def test_a_timestamp_the_date_mapping_refuses_is_kept_with_the_shippers_own_time(installed: EsServer) -> None:
    """The line's own time is valid ISO 8601 but beyond what a date field holds: kept in app-logs, at ingest time."""
    line = prediction_line("Far future.")
    line["timestamp"] = "+275760-09-14T00:00:00.000Z"
    result = run(subscription([json_line(line)]), settings_for(installed.url))
    assert result.failed == 0
    assert result.created + result.unindexable == 1


@pytest.fixture
def proxy(installed: EsServer) -> Iterator[EsFaultProxy]:
    proxy = EsFaultProxy(installed.url)
    try:
        yield proxy
    finally:
        proxy.close()


def test_items_answered_429_are_retried_with_growing_backoff_until_stored(
    installed: EsServer, proxy: EsFaultProxy
) -> None:
    event, _ = realistic_batch()
    proxy.reject_items([event_id(1), event_id(6)], times=2)
    sleeps: list[float] = []
    result = run(event, settings_for(proxy.url, retry_backoff_s=0.2), sleep=sleeps.append)
    assert (result.created, result.failed, result.retries, result.requests) == (11, 0, 2, 3)
    assert proxy.faults.forwarded_items.count(event_id(1)) == 1
    assert 0.1 <= sleeps[0] <= 0.2
    assert 0.2 <= sleeps[1] <= 0.4
    assert count(installed, "predictions-*,platform-*,app-logs-*") == 11


def test_items_still_refused_after_the_retries_fail_the_batch_and_the_retry_completes_it(
    installed: EsServer, proxy: EsFaultProxy
) -> None:
    event, _ = realistic_batch()
    proxy.reject_items([event_id(1)], times=3)
    settings = settings_for(proxy.url, max_retries=2)
    with pytest.raises(ShipError, match=r"1 of 11 documents were not stored \(1x 429 es_rejected_execution_exception"):
        run(event, settings)
    assert count(installed, "predictions-*,platform-*,app-logs-*") == 10
    again = run(event, settings)  # Lambda's retry of the same event, once the cluster has room again
    assert (again.created, again.duplicates) == (1, 10)
    assert count(installed, "predictions-*,platform-*,app-logs-*") == 11


def test_a_whole_request_answered_503_is_retried(installed: EsServer, proxy: EsFaultProxy) -> None:
    event, _ = realistic_batch()
    proxy.fail_requests(2, status=503)
    result = run(event, settings_for(proxy.url), sleep=lambda _: None)
    assert (result.created, result.retries, result.requests) == (11, 2, 3)


def test_a_server_that_keeps_answering_429_is_unavailable(installed: EsServer, proxy: EsFaultProxy) -> None:
    event, _ = realistic_batch()
    proxy.fail_requests(10, status=429)
    with pytest.raises(EsUnavailableError, match=r"unavailable after 3 attempts \(HTTP 429"):
        run(event, settings_for(proxy.url, max_retries=2), sleep=lambda _: None)
    assert proxy.faults.bulk_requests == 3


def test_retries_stop_before_the_invocation_runs_out_of_time(
    installed: EsServer, proxy: EsFaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lambda's remaining time is checked before each backoff and retry: with too little left the shipper stops,
    logs its summary and raises (Lambda retries the batch) instead of being killed mid-retry without a trace."""
    event, _ = realistic_batch()
    proxy.fail_requests(10, status=503)
    left = iter([6.0])  # after the first request: less than a backoff plus a request timeout and the margin
    capsys.readouterr()
    with pytest.raises(DeadlineError, match="of the invocation left"):
        run(event, settings_for(proxy.url, timeout_s=5.0), sleep=lambda _: None, remaining_s=lambda: next(left))
    assert proxy.faults.bulk_requests == 1
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = next(line for line in logged if line["type"] == "ship_summary")
    assert summary["stopped"].startswith("DeadlineError")
    assert summary["requests"] == 1


def test_a_rotated_key_is_read_again_after_a_401_and_the_batch_ships(
    installed: EsServer, proxy: EsFaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warm container holds the old key; the first 401 makes it read its settings (the secret) again, once."""
    loads: list[ShipperSettings] = []

    def load() -> ShipperSettings:
        loads.append(settings_for(proxy.url))
        return loads[-1]

    event, _ = realistic_batch()
    shipper = Shipper(load_settings=load)
    proxy.fail_requests(1, status=401)
    summary = shipper.handle(event)
    assert summary["created"] == 11
    assert len(loads) == 2
    assert '"type":"credentials_refreshed"' in capsys.readouterr().out


def test_a_key_still_refused_after_the_refresh_fails_without_a_loop(installed: EsServer, proxy: EsFaultProxy) -> None:
    loads: list[int] = []

    def load() -> ShipperSettings:
        loads.append(1)
        return settings_for(proxy.url)

    proxy.fail_requests(5, status=403)
    with pytest.raises(EsRequestError, match="403"):
        Shipper(load_settings=load).handle(realistic_batch()[0])
    assert (len(loads), proxy.faults.bulk_requests) == (2, 2)


def test_settings_are_read_again_after_their_ttl(installed: EsServer) -> None:
    now = [0.0]
    loads: list[int] = []

    def load() -> ShipperSettings:
        loads.append(1)
        return settings_for(installed.url)

    shipper = Shipper(load_settings=load, clock=lambda: now[0], ttl_s=900.0)
    shipper.handle(control_event(1_795_676_572_000))
    now[0] = 899.0
    shipper.handle(control_event(1_795_676_572_000))
    assert len(loads) == 1
    now[0] = 901.0
    shipper.handle(control_event(1_795_676_572_000))
    assert len(loads) == 2


def test_refused_credentials_fail_at_once_without_retrying(installed: EsServer, proxy: EsFaultProxy) -> None:
    event, _ = realistic_batch()
    proxy.fail_requests(5, status=401)
    with pytest.raises(EsRequestError, match=r"refused the bulk request: 401 security_exception"):
        run(event, settings_for(proxy.url), sleep=lambda _: None)
    assert proxy.faults.bulk_requests == 1


def test_a_large_batch_is_written_in_chunks(installed: EsServer) -> None:
    lines = [json_line(prediction_line(f"Sentence {n}.", at=T0 + timedelta(milliseconds=n))) for n in range(1200)]
    result = run(subscription(lines), settings_for(installed.url))
    assert (result.created, result.requests) == (1200, -(-1200 // CHUNK_SIZE))
    assert count(installed, "predictions-*") == 1200


def test_elasticsearch_down_then_back_loses_nothing(tmp_path: Path) -> None:
    server = start_es_server(tmp_path / "es")
    try:
        install_templates(server.url)
        settings = settings_for(server.url, max_retries=2, timeout_s=2.0)
        before, _ = realistic_batch()
        run(before, settings)
        server.stop()
        during = subscription([json_line(prediction_line(f"During outage {i}.")) for i in range(5)], first=100)
        with pytest.raises(
            EsUnavailableError, match=r"127\.0\.0\.1:\d+ is unavailable after 3 attempts.*Lambda retries"
        ):
            run(during, settings)
        server.start()  # same port, same data directory
        result = run(during, settings)  # Lambda's retry of the failed invocation
        assert (result.created, result.duplicates) == (5, 0)
        assert count(server, "predictions-*") == 3 + 5
        assert count(server, "platform-*,app-logs-*") == 8
    finally:
        server.stop()


def dashboard_predictions() -> list[dict[str, Any]]:
    """Three days of predictions from two model versions, with known labels, scores and latencies."""
    lines = []
    for n in range(60):
        day = n % 3
        lines.append(
            prediction_line(
                f"Sentence number {n}.",
                p_acceptable=(n * 37 % 100) / 100,
                at=T0 + timedelta(days=day, minutes=n),
                model_version="m-aaaaaaaaaaaa" if n < 40 else "m-bbbbbbbbbbbb",
                latency_ms=1.0 + n % 7,
            )
        )
    return lines


def test_the_searches_the_dashboards_rely_on(installed: EsServer) -> None:
    lines = dashboard_predictions()
    run(subscription([json_line(line) for line in lines]), settings_for(installed.url))
    assert count(installed, "predictions-*") == 60
    assert len(installed.request("GET", "/_cat/indices/predictions-*?format=json")) == 3  # daily indices

    answer = search(
        installed,
        "predictions-*",
        {
            "size": 0,
            "aggs": {
                "per_day": {
                    "date_histogram": {"field": "@timestamp", "calendar_interval": "day"},
                    "aggs": {"labels": {"terms": {"field": "label"}}},
                },
                "latency": {"avg": {"field": "latency_ms"}},
                "models": {"terms": {"field": "model_version"}},
                "low_confidence": {"filter": {"range": {"score": {"lt": 0.6}}}},
            },
        },
    )
    aggs = answer["aggregations"]
    per_day = {
        bucket["key_as_string"][:10]: {b["key"]: b["doc_count"] for b in bucket["labels"]["buckets"]}
        for bucket in aggs["per_day"]["buckets"]
    }
    expected: dict[str, Counter[str]] = {}
    for line in lines:
        expected.setdefault(line["timestamp"][:10], Counter())[line["label"]] += 1
    assert per_day == {day: dict(labels) for day, labels in expected.items()}
    assert aggs["latency"]["value"] == pytest.approx(statistics.mean(line["latency_ms"] for line in lines), rel=1e-5)
    assert {b["key"]: b["doc_count"] for b in aggs["models"]["buckets"]} == {"m-aaaaaaaaaaaa": 40, "m-bbbbbbbbbbbb": 20}
    assert aggs["low_confidence"]["doc_count"] == sum(1 for line in lines if line["score"] < 0.6)

    window = {"range": {"@timestamp": {"gte": "2026-11-27T00:00:00Z", "lt": "2026-11-28T00:00:00Z"}}}
    assert count(installed, "predictions-*", window) == 20


def test_templates_map_every_field_the_server_reports(installed: EsServer) -> None:
    for family, spec in FAMILIES.items():
        stored = installed.request("GET", f"/_index_template/{spec['name']}")["index_templates"][0]["index_template"]
        assert stored["index_patterns"] == [f"{PREFIXES[family]}-*"]
        expected = index_template(family, lifecycle=None)["template"]["mappings"]
        assert stored["template"]["mappings"] == expected
