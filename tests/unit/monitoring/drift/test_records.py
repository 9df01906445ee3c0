"""A prediction log line becomes a checked record; a line with a missing or wrong field says which."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from monitoring.drift.records import PredictionRecord, RecordError, is_prediction, parse_record
from tests.support.prediction_logs import log_lines, make_prediction


@pytest.fixture
def line() -> dict[str, Any]:
    """A real prediction line, as chalicelib.contract.log_line.prediction_record writes it."""
    (record,) = log_lines([make_prediction(0.8, n_tokens=7)], "m-abc", start=datetime(2026, 11, 26, 7, 2, 52, 123000))
    return record


def test_a_log_line_parses_into_a_record(line: dict[str, Any]) -> None:
    assert is_prediction(line)
    assert parse_record(line) == PredictionRecord(
        timestamp=datetime(2026, 11, 26, 7, 2, 52, 123000, tzinfo=UTC),
        model_version="m-abc",
        label="acceptable",
        p_acceptable=0.8,
        latency_ms=2.0,
        n_chars=28,
        n_tokens=7,
        truncated=False,
        unknown_token_rate=0.0,
    )


def test_an_elasticsearch_document_parses_alike(line: dict[str, Any]) -> None:
    """The shipper's documents are the line's fields plus its own (@timestamp, log_group, ...)."""
    document = {**line, "@timestamp": line["timestamp"], "log_group": "/aws/lambda/x", "event_id": "1"}
    assert parse_record(document) == parse_record(line)


def test_timestamps_with_an_offset_become_utc(line: dict[str, Any]) -> None:
    record = parse_record({**line, "timestamp": "2026-11-26T09:02:52+02:00"})
    assert record.timestamp == datetime(2026, 11, 26, 7, 2, 52, tzinfo=UTC)


def test_other_line_types_are_not_predictions() -> None:
    assert not is_prediction({"type": "error", "code": "internal_error"})
    assert not is_prediction({"message": "no type"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"log_schema": 2}, "log_schema is 2, this report reads 1"),
        ({"label": ""}, "label must be a non-empty string, got ''"),
        ({"label": 1}, "label must be a non-empty string, got 1"),
        ({"model_version": ""}, "model_version must be a non-empty string"),
        ({"truncated": "no"}, "truncated must be true or false, got 'no'"),
        ({"timestamp": None}, "timestamp must be an ISO 8601 string, got None"),
        ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not ISO 8601"),
        ({"timestamp": "2026-11-26T07:02:52"}, "has no time zone"),
        ({"p_acceptable": "0.8"}, "p_acceptable must be a number, got '0.8'"),
        ({"p_acceptable": 1.5}, r"p_acceptable must be in \[0.0, 1.0\], got 1.5"),
        ({"p_acceptable": float("nan")}, "p_acceptable must be a number, got nan"),
        ({"latency_ms": -1}, "latency_ms must be >= 0.0, got -1"),
        ({"n_tokens": True}, "n_tokens must be a non-negative integer, got True"),
        ({"n_chars": 3.5}, "n_chars must be a non-negative integer, got 3.5"),
        ({"unknown_token_rate": None}, "unknown_token_rate must be a number, got None"),
    ],
)
def test_a_wrong_field_is_named(line: dict[str, Any], change: dict[str, Any], message: str) -> None:
    with pytest.raises(RecordError, match=message):
        parse_record({**line, **change})


def test_a_missing_field_is_named(line: dict[str, Any]) -> None:
    del line["n_tokens"]
    with pytest.raises(RecordError, match="n_tokens must be a non-negative integer, got None"):
        parse_record(line)


def test_the_fields_read_are_fields_of_the_log_schema() -> None:
    from chalice_app.chalicelib.contract.log_line import PREDICTION_FIELDS
    from monitoring.drift.records import RECORD_FIELDS

    assert set(RECORD_FIELDS) <= set(PREDICTION_FIELDS)
