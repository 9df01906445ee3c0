"""The prediction log line: one typed definition whose fields are the documented ones."""

from __future__ import annotations

import json

from chalice_app.chalicelib.api.predictor import Prediction
from chalice_app.chalicelib.contract.index_fields import declared_type
from chalice_app.chalicelib.contract.log_line import (
    OPTIONAL_PREDICTION_FIELDS,
    PREDICTION_FIELDS,
    PredictionLine,
    prediction_record,
)

KINDS = {"integer": int, "number": float, "string": str, "boolean": bool}


def line(positive: str = "yes", raw: bool = False) -> PredictionLine:
    prediction = Prediction("yes", 0.75, {"no": 0.25, "yes": 0.75}, 5, 2, False, 0.0)
    return prediction_record(
        prediction, "Hello", timestamp="2026-12-04T00:00:00.000Z", request_id="r", model_version="m-1",
        model_file="model.onnx", latency_ms=1.0, inference_ms=0.5, batch_size=1, index=0, log_raw_text=raw,
        positive_label=positive,
    )  # fmt: skip


def test_the_typed_line_and_the_field_table_agree() -> None:
    assert set(PredictionLine.__required_keys__) == set(PREDICTION_FIELDS)
    assert set(PredictionLine.__optional_keys__) == set(OPTIONAL_PREDICTION_FIELDS)


def test_a_written_line_has_exactly_the_documented_fields_and_types() -> None:
    record = line()
    assert list(record) == list(PREDICTION_FIELDS)
    for name, description in PREDICTION_FIELDS.items():
        kind = KINDS[declared_type(description)]
        value = dict(record)[name]
        assert isinstance(value, (int, float) if kind is float else kind), name
    assert set(line(raw=True)) == set(PREDICTION_FIELDS) | set(OPTIONAL_PREDICTION_FIELDS)
    json.dumps(record)


def test_p_acceptable_is_the_probability_of_the_manifests_positive_label() -> None:
    assert line(positive="yes")["p_acceptable"] == 0.75
    assert line(positive="no")["p_acceptable"] == 0.25
