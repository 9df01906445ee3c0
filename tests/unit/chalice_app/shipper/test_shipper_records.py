"""Which log line becomes which document: predictions, Lambda platform lines, and everything else kept in app-logs
with its kind; no line is dropped, every document carries exactly the fields its index template maps."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from chalice_app.chalicelib.contract.index_fields import APP_LOG_FIELDS, PLATFORM_FIELDS
from chalice_app.chalicelib.contract.log_line import PREDICTION_FIELDS
from chalice_app.chalicelib.shipper.cloudwatch import LogEvent, LogsPayload, decode_event
from chalice_app.chalicelib.shipper.lambda_platform import platform_json, platform_text
from chalice_app.chalicelib.shipper.log_records import (
    APP_LOGS,
    PLATFORM,
    PREDICTIONS,
    Record,
    prediction_problems,
    records_of,
)
from devtools.cloudwatch_events import control_event
from monitoring.elastic.index_templates import prediction_field_types
from tests.support.cloudwatch_lines import (
    LOG_GROUP,
    LOG_STREAM,
    T0,
    end_line,
    event_id,
    json_line,
    prediction_line,
    report_line,
    start_line,
    subscription,
)

NOW = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)
REQUEST = "6f3c1a2b-0d4e-4f5a-9b8c-7d6e5f4a3b2c"
FIELDS = {PREDICTIONS: set(prediction_field_types()), PLATFORM: set(PLATFORM_FIELDS), APP_LOGS: set(APP_LOG_FIELDS)}


def ship(messages: list[str]) -> list[Record]:
    return records_of(decode_event(subscription(messages)), NOW)


def one(message: str) -> Record:
    records = ship([message])
    assert len(records) == 1
    return records[0]


def test_a_prediction_line_becomes_a_prediction_document_with_the_shippers_fields() -> None:
    line = prediction_line("She voted for herself.", p_acceptable=0.91)
    record = one(json_line(line))
    assert record.family == PREDICTIONS
    assert record.doc_id == event_id(0)
    assert record.timestamp == T0
    assert record.document == {
        **line,
        "@timestamp": "2026-11-26T07:02:52.123Z",
        "ingested_at": "2026-11-26T09:00:00.000Z",
        "log_group": LOG_GROUP,
        "log_stream": LOG_STREAM,
        "event_id": event_id(0),
    }


def test_the_prediction_time_is_the_lines_not_cloudwatchs() -> None:
    line = prediction_line(at=datetime(2026, 11, 25, 23, 59, 59, 999000, tzinfo=UTC))
    record = one(json_line(line))  # CloudWatch received it on the 26th
    assert record.timestamp.date().isoformat() == "2026-11-25"
    assert record.document["@timestamp"] == "2026-11-25T23:59:59.999Z"


def test_raw_text_is_kept_with_unicode_and_control_characters() -> None:
    text = "Ünïcödé 😀 עברית\x00\x07\t\u2028end"
    record = one(json_line(prediction_line(text, log_raw_text=True)))
    assert record.family == PREDICTIONS
    assert record.document["text"] == text


def invalid(line: dict[str, Any]) -> Record:
    record = one(json_line(line))
    assert record.family == APP_LOGS
    assert record.document["record_kind"] == "invalid_prediction"
    assert record.document["line"] == line
    return record


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"score": "high"}, "'score' must be number"),
        ({"batch_size": True}, "'batch_size' must be integer"),
        ({"n_tokens": 3.5}, "'n_tokens' must be integer"),
        ({"truncated": 0}, "'truncated' must be boolean"),
        ({"label": None}, "'label' must be string"),
        ({"surprise": 1}, "unknown field 'surprise'"),
        ({"log_schema": 2}, "log_schema 2 is not this shipper's 1"),
        ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not ISO 8601"),
        ({"timestamp": "2026-11-26T07:02:52.123"}, "is not ISO 8601 with a time zone"),
    ],
)
def test_a_prediction_line_that_breaks_the_schema_is_kept_with_the_reason(change: dict[str, Any], reason: str) -> None:
    record = invalid({**prediction_line(), **change})
    assert reason in record.document["reason"]


def test_every_missing_field_is_named() -> None:
    line = prediction_line()
    del line["score"], line["request_id"]
    record = invalid(line)
    assert "missing field 'score'" in record.document["reason"]
    assert "missing field 'request_id'" in record.document["reason"]


def test_a_nan_score_is_not_a_number_and_is_stored_as_text() -> None:
    message = json_line(prediction_line()).replace('"score":0.83', '"score":NaN')
    record = one(message)
    assert record.document["record_kind"] == "invalid_prediction"
    assert "'score' must be number, got NaN" in record.document["reason"]
    assert record.document["line"]["score"] == "nan"  # strict JSON cannot carry NaN


def test_schema_fields_pass_the_check_exactly() -> None:
    assert prediction_problems(prediction_line()) == []
    assert prediction_problems(prediction_line(log_raw_text=True)) == []
    assert set(prediction_line()) == set(PREDICTION_FIELDS)


def test_an_error_line_goes_to_app_logs_as_an_error() -> None:
    line = {
        "log_schema": 1,
        "type": "error",
        "timestamp": "2026-11-26T07:02:53.000Z",
        "level": "ERROR",
        "request_id": REQUEST,
        "code": "internal_error",
        "message": "unhandled exception in predict",
        "traceback": "Traceback (most recent call last):\n  ...\nValueError: boom\n",
    }
    record = one(json_line(line))
    assert record.family == APP_LOGS
    expected = {k: line[k] for k in ("type", "level", "request_id", "code", "message", "traceback")}
    assert record.document.items() >= {"record_kind": "error", **expected, "line": line}.items()
    assert record.document["@timestamp"] == "2026-11-26T07:02:53.000Z"


def test_another_json_line_is_an_event_with_the_cloudwatch_time_when_it_has_none() -> None:
    line = {"type": "model_loaded", "level": "INFO", "model_version": "m-1", "message": {"not": "a string"}}
    record = one(json_line(line))
    assert record.family == APP_LOGS
    assert record.document["record_kind"] == "event"
    assert record.document["type"] == "model_loaded"
    assert "message" not in record.document  # not a string: kept in `line` only, never a mapping conflict
    assert record.document["line"] == line
    assert record.timestamp == T0


@pytest.mark.parametrize(
    "message",
    [
        '127.0.0.1 - - [26/Nov/2026 07:02:52] "POST /predict HTTP/1.1" 200 -\n',
        "[WARNING]\t2026-11-26T07:02:52.123Z\t6f3c\tsomething odd\n",
        "42\n",
        "[1, 2]\n",
        '"a json string"\n',
        "{not json\n",
        "ctrl \x00\x01\x1b[31m red \x7f ünï 😀 \u2028 \ufeff\n",
    ],
)
def test_anything_else_is_a_raw_record_never_dropped(message: str) -> None:
    record = one(message)
    assert record.family == APP_LOGS
    assert record.document["record_kind"] == "raw"
    assert record.document["message"] == message.rstrip("\n")


def test_an_empty_message_is_still_a_record() -> None:
    record = one("")
    assert record.document["record_kind"] == "raw"
    assert record.document["message"] == ""


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    line = prediction_line("bad \ud800 half", log_raw_text=True)
    record = one(json_line(line))  # json escapes it as \ud800, which JSON allows and UTF-8 cannot carry
    assert record.family == PREDICTIONS
    assert record.document["text"] == "bad \ufffd half"
    assert record.document["text_sha256"] == line["text_sha256"]


def test_lambda_platform_lines_become_platform_documents() -> None:
    records = ship([start_line(REQUEST), end_line(REQUEST), report_line(REQUEST, 12.34, init_ms=251.07)])
    assert [r.family for r in records] == [PLATFORM] * 3
    start, end, report = (r.document for r in records)
    assert start.items() >= {"platform_type": "START", "request_id": REQUEST, "version": "$LATEST"}.items()
    assert end.items() >= {"platform_type": "END", "request_id": REQUEST}.items()
    assert (
        report.items()
        >= {
            "platform_type": "REPORT",
            "request_id": REQUEST,
            "duration_ms": 12.34,
            "billed_duration_ms": 13.0,
            "memory_size_mb": 1024,
            "max_memory_used_mb": 87,
            "init_duration_ms": 251.07,
            "cold_start": True,
        }.items()
    )
    assert report["message"] == report_line(REQUEST, 12.34, init_ms=251.07).rstrip("\n")


def test_a_warm_report_has_no_init_duration() -> None:
    fields = platform_text(report_line(REQUEST, init_ms=None))
    assert fields is not None
    assert fields["cold_start"] is False
    assert "init_duration_ms" not in fields


def test_report_with_status_and_xray_and_other_platform_lines() -> None:
    report = (
        f"REPORT RequestId: {REQUEST}\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 90 MB\tStatus: timeout\t\nXRAY TraceId: 1-6745a1b2-0123456789abcdef01234567\t"
        "SegmentId: 0123456789abcdef\tSampled: true\t"
    )
    assert platform_text(report) == {
        "platform_type": "REPORT",
        "request_id": REQUEST,
        "duration_ms": 30000.0,
        "billed_duration_ms": 30000.0,
        "memory_size_mb": 1024,
        "max_memory_used_mb": 90,
        "status": "timeout",
        "xray_trace_id": "1-6745a1b2-0123456789abcdef01234567",
        "cold_start": False,
    }
    init = "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc"
    assert platform_text(init) == {"platform_type": "INIT_START", "runtime_version": "python:3.12.v38"}
    timeout = f"2026-11-26T07:03:22.130Z {REQUEST} Task timed out after 30.03 seconds"
    assert platform_text(timeout) == {"platform_type": "TIMEOUT", "request_id": REQUEST, "timeout_s": 30.03}
    assert platform_text("STARTLED RequestId: x") is None


def test_lambda_json_log_format_platform_events() -> None:
    line = {
        "time": "2026-11-26T07:02:52.500Z",
        "type": "platform.report",
        "record": {
            "requestId": REQUEST,
            "status": "success",
            "metrics": {"durationMs": 2.5, "billedDurationMs": 3, "memorySizeMB": 1024, "maxMemoryUsedMB": 80},
        },
    }
    record = one(json.dumps(line))
    assert record.family == PLATFORM
    assert (
        record.document.items()
        >= {
            "platform_type": "REPORT",
            "request_id": REQUEST,
            "duration_ms": 2.5,
            "billed_duration_ms": 3.0,
            "memory_size_mb": 1024,
            "cold_start": False,
            "@timestamp": "2026-11-26T07:02:52.500Z",
        }.items()
    )
    assert platform_json({"type": "prediction"}) is None


def test_an_event_of_several_json_lines_gives_one_document_per_line() -> None:
    lines = [prediction_line(index=i, batch_size=3) for i in range(3)]
    records = ship(["".join(json_line(line) for line in lines)])  # one write of a batch's lines
    assert [r.doc_id for r in records] == [f"{event_id(0)}-{n}" for n in range(3)]
    assert [r.document["index"] for r in records] == [0, 1, 2]
    assert {r.document["event_id"] for r in records} == {event_id(0)}


def test_a_multi_line_traceback_stays_one_raw_document() -> None:
    traceback = 'Traceback (most recent call last):\n  File "/var/task/app.py", line 1\nValueError: boom\n'
    record = one(traceback)
    assert record.doc_id == event_id(0)
    assert record.document["message"] == traceback.rstrip("\n")


def test_a_control_message_gives_no_record() -> None:
    assert records_of(decode_event(control_event(1_795_676_572_000)), NOW) == []


def test_same_events_give_the_same_ids_and_documents() -> None:
    messages = [json_line(prediction_line()), "text\n", report_line(REQUEST)]
    assert ship(messages) == ship(messages)
    assert len({r.doc_id for r in ship(messages)}) == 3


CORPUS = [
    json_line(prediction_line()),
    json_line(prediction_line("raw ünï", log_raw_text=True)),
    json_line({**prediction_line(), "score": "bad"}),
    json_line({"type": "error", "code": "x", "message": "m", "request_id": None, "traceback": "t"}),
    json_line({"type": "model_loaded", "level": "INFO", "timestamp": "2026-11-26T07:00:00.000Z", "x": [1, {}]}),
    start_line(REQUEST),
    end_line(REQUEST),
    report_line(REQUEST),
    "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn\n",
    f"2026-11-26T07:03:22.130Z {REQUEST} Task timed out after 30.03 seconds\n",
    json.dumps(
        {"type": "platform.start", "time": "2026-11-26T07:00:00Z", "record": {"requestId": "r", "version": "1"}}
    ),
    "plain text\n",
]


@pytest.mark.parametrize("message", CORPUS)
def test_documents_hold_only_fields_their_template_maps(message: str) -> None:
    record = one(message)
    assert set(record.document) <= FIELDS[record.family]
    assert set(record.document) >= {"@timestamp", "ingested_at", "log_group", "log_stream", "event_id"}
    json.dumps(record.document, allow_nan=False).encode("utf-8")  # strict JSON, valid UTF-8


def test_records_are_in_event_order_across_families() -> None:
    payload = LogsPayload(
        "DATA_MESSAGE",
        "1",
        LOG_GROUP,
        LOG_STREAM,
        (),
        tuple(LogEvent(str(n), 1_795_676_572_000 + n, m) for n, m in enumerate(CORPUS)),
    )
    records = records_of(payload, NOW)
    assert [r.doc_id for r in records] == [str(n) for n in range(len(CORPUS))]
    assert not any(isinstance(v, float) and math.isnan(v) for r in records for v in r.document.values())
