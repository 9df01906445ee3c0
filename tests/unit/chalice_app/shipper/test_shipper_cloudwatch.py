"""Decoding CloudWatch Logs subscription events: what CloudWatch sends decodes back exactly; anything else is
refused with the layer that is wrong (envelope, base64, gzip, JSON, payload fields)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from chalice_app.chalicelib.shipper.cloudwatch import (
    CONTROL_MESSAGE,
    DATA_MESSAGE,
    LogEvent,
    PayloadError,
    decode_event,
)
from devtools.cloudwatch_events import control_event, subscription_event
from tests.support.cloudwatch_lines import LOG_GROUP, LOG_STREAM, events_of, json_line, prediction_line


def wrap(document: Any) -> dict[str, Any]:
    """An event whose data is this JSON document, gzip-compressed and base64-encoded."""
    data = gzip.compress(json.dumps(document).encode())
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


def payload(**overrides: Any) -> dict[str, Any]:
    document = {
        "messageType": DATA_MESSAGE,
        "owner": "123456789012",
        "logGroup": LOG_GROUP,
        "logStream": LOG_STREAM,
        "subscriptionFilters": ["logs-to-shipper"],
        "logEvents": [{"id": "3" * 56, "timestamp": 1_795_676_572_123, "message": "hello\n"}],
    }
    return {**document, **overrides}


def test_a_data_message_decodes_to_its_events() -> None:
    messages = [json_line(prediction_line()), "plain text ünï 😀 \x00\x07\n", ""]
    event = subscription_event(LOG_GROUP, LOG_STREAM, events_of(messages), owner="123456789012")
    decoded = decode_event(event)
    assert decoded.message_type == DATA_MESSAGE
    assert not decoded.is_control
    assert (decoded.owner, decoded.log_group, decoded.log_stream) == ("123456789012", LOG_GROUP, LOG_STREAM)
    assert decoded.log_events == tuple(events_of(messages))
    assert [e.message for e in decoded.log_events] == messages


def test_the_event_is_what_cloudwatch_sends() -> None:
    event = subscription_event(LOG_GROUP, LOG_STREAM, [LogEvent("1" * 56, 1000, "x")], filters=["f"])
    assert set(event) == {"awslogs"}
    document = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert document == {
        "messageType": "DATA_MESSAGE",
        "owner": "000000000000",
        "logGroup": LOG_GROUP,
        "logStream": LOG_STREAM,
        "subscriptionFilters": ["f"],
        "logEvents": [{"id": "1" * 56, "timestamp": 1000, "message": "x"}],
    }


def test_a_control_message_is_recognised() -> None:
    decoded = decode_event(control_event(1_795_676_572_000))
    assert decoded.message_type == CONTROL_MESSAGE
    assert decoded.is_control
    assert decoded.log_events[0].message.startswith("CWL CONTROL MESSAGE")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ([], "not a CloudWatch Logs subscription event"),
        ({"Records": []}, r"not a CloudWatch Logs subscription event.*\['Records'\]"),
        ({"awslogs": "x"}, "not a CloudWatch Logs subscription event"),
        ({"awslogs": {}}, "awslogs.data must be a non-empty base64 string"),
        ({"awslogs": {"data": "not base64 !"}}, "not valid base64"),
        ({"awslogs": {"data": base64.b64encode(b"plain bytes").decode()}}, "not gzip data"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"{nope")).decode()}}, "does not hold JSON"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"\xff\xfe")).decode()}}, "does not hold JSON"),
    ],
)
def test_an_unreadable_envelope_says_which_layer_is_wrong(event: Any, expected: str) -> None:
    with pytest.raises(PayloadError, match=expected):
        decode_event(event)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], "must be a JSON object, got list"),
        (payload(messageType="OTHER"), "messageType must be DATA_MESSAGE or CONTROL_MESSAGE, got 'OTHER'"),
        (payload(logEvents=None), "no logEvents list"),
        (payload(logEvents=["x"]), r"logEvents\[0\] must be an object"),
        (payload(logEvents=[{"id": 1, "timestamp": 1, "message": ""}]), r"logEvents\[0\].id must be a string"),
        (payload(logEvents=[{"id": "1", "timestamp": "1", "message": ""}]), r"logEvents\[0\].timestamp must be"),
        (payload(logEvents=[{"id": "1", "timestamp": True, "message": ""}]), r"logEvents\[0\].timestamp must be"),
        (payload(logEvents=[{"id": "1", "timestamp": -5, "message": ""}]), r"logEvents\[0\].timestamp must be"),
        (payload(logEvents=[{"id": "1", "timestamp": 10**17, "message": ""}]), "before year 10000"),
        (payload(logEvents=[{"id": "1", "timestamp": 1, "message": None}]), r"logEvents\[0\].message must be"),
    ],
)
def test_a_malformed_payload_names_the_field(document: Any, expected: str) -> None:
    with pytest.raises(PayloadError, match=expected):
        decode_event(wrap(document))


def test_an_empty_data_message_has_no_events() -> None:
    assert decode_event(wrap(payload(logEvents=[]))).log_events == ()
