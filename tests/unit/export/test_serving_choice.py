"""Which model file a bundle serves: int8 only when it is preferred, built and within its gates; else fp32, with
the reason recorded in the manifest."""

from __future__ import annotations

import pytest

from export.build import serving_choice


def test_int8_is_served_when_it_passes() -> None:
    assert serving_choice("int8", True, []) == {
        "model_file": "model.int8.onnx",
        "precision": "int8",
        "reason": "int8 passed its gates",
        "session_batch": {},  # filled in once the shipped files are known
    }


def test_a_failed_int8_gate_serves_fp32_and_names_each_failure() -> None:
    failures = ["int8 vs fp32: prediction agreement 0.9639 < 0.97", "int8 vs fp32: MCC drop 0.03 > 0.02"]
    choice = serving_choice("int8", True, failures)
    assert choice["model_file"] == "model.onnx"
    assert choice["precision"] == "fp32"
    assert choice["reason"] == "int8 failed its gates: " + "; ".join(failures)


def test_no_int8_model_serves_fp32() -> None:
    choice = serving_choice("int8", False, [])
    assert choice["model_file"] == "model.onnx"
    assert choice["reason"] == "no int8 model built (export.quantization.int8=false)"


def test_fp32_can_be_chosen_even_when_int8_passes() -> None:
    assert serving_choice("fp32", True, [])["model_file"] == "model.onnx"


def test_an_unknown_precision_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"export.serve_precision must be one of int8, fp32, got 'fp16'"):
        serving_choice("fp16", True, [])
