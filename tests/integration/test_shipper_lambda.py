"""The ship_logs Lambda of the Chalice app, invoked through Chalice's test client as CloudWatch Logs would invoke
it, against a real Elasticsearch-API server (noida-db): the API's own log lines go in, documents come out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.app_harness import Api, app_module, chalicelib, new_client
from tests.support.cloudwatch_lines import LOG_GROUP, as_stored, json_line, prediction_line, subscription
from tests.support.es_server import EsServer

pytestmark = pytest.mark.integration


@pytest.fixture
def shipper_env(es: EsServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[EsServer]:
    """ES_URL of the session's (emptied) server; the app's shipper forgets its settings before and after."""
    monkeypatch.setenv("ES_URL", es.url)
    monkeypatch.setenv("ES_RETRY_BACKOFF_S", "0.01")
    for name in ("ES_API_KEY", "ES_API_KEY_SECRET_ID", "AWS_LAMBDA_LOG_GROUP_NAME"):
        monkeypatch.delenv(name, raising=False)
    chalicelib("shipper.handler").SHIPPER.reset()
    yield es
    chalicelib("shipper.handler").SHIPPER.reset()


def invoke(event: Any) -> Any:
    return new_client().lambda_.invoke("ship_logs", event).payload


def stdout_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_function_is_registered_beside_the_api() -> None:
    app = app_module().app
    assert "ship_logs" in app.handler_map
    assert "ship_logs" in {f.name for f in app.pure_lambda_functions}


def test_the_apis_own_log_lines_are_shipped(
    api: Api, shipper_env: EsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    status, _ = api.post({"texts": ["The cat sat.", "Cat the sat.", "Ünïcödé 😀 \x07"]})
    assert status == 200
    logged = stdout_lines(capsys)
    predictions = [line for line in logged if line["type"] == "prediction"]
    assert len(predictions) == 3

    summary = invoke(subscription([json_line(line) for line in logged]))
    assert summary["documents"]["predictions"] == 3
    assert summary["created"] == len(logged)
    assert summary["failed"] == 0
    shipper_env.request("POST", "/predictions-*/_refresh")
    hits = shipper_env.request("POST", "/predictions-*/_search", {"sort": [{"index": "asc"}]})["hits"]["hits"]
    for hit, line in zip(hits, predictions, strict=True):
        assert {k: hit["_source"][k] for k in line} == as_stored(line)


def test_a_second_delivery_is_counted_as_duplicates(shipper_env: EsServer) -> None:
    event = subscription([json_line(prediction_line()), "START RequestId: r Version: $LATEST\n"])
    assert invoke(event)["created"] == 2
    again = invoke(event)
    assert (again["created"], again["duplicates"]) == (0, 2)


def test_without_es_url_the_invocation_fails_with_a_clear_error(
    shipper_env: EsServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ES_URL")
    capsys.readouterr()
    with pytest.raises(ValueError, match="ES_URL is not set"):
        invoke(subscription([json_line(prediction_line())]))
    errors = [line for line in stdout_lines(capsys) if line["type"] == "error"]
    assert [e["code"] for e in errors] == ["misconfigured"]
    assert "ES_URL is not set" in errors[0]["message"]


def test_an_event_that_is_not_a_subscription_fails_the_invocation(shipper_env: EsServer) -> None:
    with pytest.raises(ValueError, match="not a CloudWatch Logs subscription event"):
        invoke({"Records": [{"body": "an SQS message"}]})


def test_the_shippers_own_log_group_is_refused(
    shipper_env: EsServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A subscription on the shipper's own log group would feed it its own summaries forever."""
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", LOG_GROUP)
    capsys.readouterr()
    summary = invoke(subscription([json_line(prediction_line())]))
    assert summary["refused_own_log_group"]
    assert summary["created"] == 0
    errors = [line for line in stdout_lines(capsys) if line["type"] == "error"]
    assert errors[0]["code"] == "misconfigured"
    assert shipper_env.request("GET", "/_cat/indices?format=json") == []
