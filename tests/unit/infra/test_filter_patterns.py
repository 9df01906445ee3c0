"""The subscription's filter patterns select the lines they promise, checked with tests/support/filter_pattern.py.

CloudWatch Logs evaluates the patterns; nothing that runs here does: moto 5.2 answers TestMetricFilter with an
internal error and ignores JSON patterns in FilterLogEvents (tests/integration/test_filter_patterns.py keeps that
claim honest). The evaluator is first held to the behaviour AWS documents for JSON patterns, then applied to the
lines the API really writes (built with chalicelib's own log functions) and to the lines Lambda adds.
"""

from __future__ import annotations

import json

import pytest

from chalice_app.chalicelib.api.predictor import Prediction
from chalice_app.chalicelib.contract import json_logging as logging_json
from chalice_app.chalicelib.contract import log_line as log_schema
from infra.subscribe import DEFAULT_LINES, LINES
from tests.support.cloudwatch_lines import LAMBDA_LINES
from tests.support.filter_pattern import UnsupportedPatternError, compile_pattern
from tests.support.labels import LABELS

DOCUMENTED_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "bandwidth": 80,
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "user": {"id": 1},
        "users": [{"email": "John.Doe@example.com"}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', True),
        ('{ $.eventType = "updatetrail" }', False),  # values are case sensitive
        ('{ $.eventType != "UpdateTrail" }', False),
        ("{ $.sourceIPAddress != 123.123.* }", True),
        ("{ $.sourceIPAddress = 111.111.* }", True),
        ("{ $.bandwidth > 75 }", True),
        ("{ $.bandwidth <= 75 }", False),
        ('{ $.arrayKey[0] = "value" }', True),
        ("{ $.objectList[1].id = 2 }", True),
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ('{ ($.user.id = 2) || ($.eventType = "UpdateTrail") }', True),
        ('{ ($.user.id = 2) && ($.eventType = "UpdateTrail") }', False),
        ("{ $.SomeObject IS NULL }", True),
        ("{ $.SomeOtherObject NOT EXISTS }", True),
        ("{ $.eventType NOT EXISTS }", False),
        ("{ $.ThisFlag IS TRUE }", True),
        ('{ $.missing = "x" }', False),  # a comparison on an absent field does not match
        ('{ $.missing != "x" }', False),
    ],
)
def test_evaluator_follows_the_documented_json_pattern_semantics(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern)(DOCUMENTED_EVENT) is expected


def test_json_patterns_never_match_text_events_and_the_empty_pattern_matches_all() -> None:
    for message in ["eventType UpdateTrail", "", "[1, 2]", '"a string"']:
        assert compile_pattern('{ $.eventType = "UpdateTrail" }')(message) is False
        assert compile_pattern("")(message) is True


@pytest.mark.parametrize("pattern", ["ERROR", '"exact phrase"', "[ip, user]", "{ $.a = }", '{ $.a > "x" }'])
def test_evaluator_refuses_patterns_outside_its_subset(pattern: str) -> None:
    with pytest.raises(UnsupportedPatternError):
        compile_pattern(pattern)


def _prediction_line() -> str:
    prediction = Prediction("acceptable", 0.91, {"acceptable": 0.91, "unacceptable": 0.09}, 23, 6, False, 0.0)
    record = log_schema.prediction_record(
        prediction,
        "The cat sat on the mat.",
        timestamp="2026-11-26T07:02:52.123Z",
        request_id="c0ffee00-0000-4000-8000-000000000001",
        model_version="minilm-0123abcd",
        model_file="model.int8.onnx",
        latency_ms=4.2,
        inference_ms=1.7,
        batch_size=1,
        index=0,
        log_raw_text=False,
        positive_label=LABELS[1],
    )
    return json.dumps(record, separators=(",", ":"))


@pytest.fixture
def app_lines(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """One line of each kind the API writes to stdout, produced by chalicelib's own log functions."""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging_json.log_error("internal_error", "unhandled exception in predict", "req-1", with_traceback=True)
    logging_json.log_event("model_loaded", model_version="minilm-0123abcd")
    error_line, event_line = capsys.readouterr().out.splitlines()
    return {"prediction": _prediction_line(), "error": error_line, "event": event_line}


def _selected(pattern: str, lines: dict[str, str]) -> set[str]:
    matches = compile_pattern(pattern)
    return {kind for kind, line in lines.items() if matches(line)}


def test_api_lines_have_the_types_the_patterns_name(app_lines: dict[str, str]) -> None:
    assert json.loads(app_lines["prediction"])["type"] == log_schema.PREDICTION_TYPE
    assert json.loads(app_lines["error"])["type"] == log_schema.ERROR_TYPE
    assert json.loads(app_lines["event"])["type"] == "model_loaded"


def test_predictions_pattern_selects_prediction_lines_only(app_lines: dict[str, str]) -> None:
    assert _selected(LINES["predictions"], {**app_lines, **LAMBDA_LINES}) == {"prediction"}


def test_predictions_and_errors_pattern_adds_the_error_lines(app_lines: dict[str, str]) -> None:
    assert _selected(LINES["predictions-and-errors"], {**app_lines, **LAMBDA_LINES}) == {"prediction", "error"}


def test_default_ships_every_line_for_the_shipper_to_route(app_lines: dict[str, str]) -> None:
    lines = {**app_lines, **LAMBDA_LINES}
    assert DEFAULT_LINES == "all"
    assert _selected(LINES[DEFAULT_LINES], lines) == set(lines)


def test_a_line_of_another_type_or_a_look_alike_is_not_a_prediction(app_lines: dict[str, str]) -> None:
    record = json.loads(app_lines["prediction"])
    look_alikes = {
        "plural": json.dumps({**record, "type": "predictions"}),
        "upper": json.dumps({**record, "type": "Prediction"}),
        "nested": json.dumps({"line": record}),
        "array": json.dumps([record]),
        "text": "prediction " + app_lines["prediction"],
    }
    assert _selected(LINES["predictions"], look_alikes) == set()
