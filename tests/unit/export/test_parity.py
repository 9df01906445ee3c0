"""Parity gates, the parity report and the padded batches they are computed on (no model needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from export.parity import Gates, batches, fp32_gate_failures, int8_gate_failures, parity_report


def check_gates(fp32: dict[str, Any], int8: dict[str, Any], gates: Gates) -> list[str]:
    """Both models' gate failures, fp32 first (what the export checks, in that order)."""
    return fp32_gate_failures(fp32, gates) + int8_gate_failures(int8, gates)


def report(diff: float = 0.0, agreement: float = 1.0, mcc: float = 0.5, candidate_mcc: float | None = None) -> dict:
    """A parity report as parity_report writes it, with only the fields the gates read filled in."""
    return {
        "max_abs_logit_diff": diff,
        "prediction_agreement": agreement,
        "reference": {"mcc": mcc},
        "candidate": {"mcc": mcc if candidate_mcc is None else candidate_mcc},
    }


GOOD_FP32 = report(diff=3e-6)
GOOD_INT8 = report(diff=0.05, agreement=0.99, mcc=0.50, candidate_mcc=0.49)


class TestCheckGates:
    def test_good_reports_pass_every_gate(self) -> None:
        assert check_gates(GOOD_FP32, GOOD_INT8, Gates()) == []

    def test_values_at_the_thresholds_pass(self) -> None:
        gates = Gates()  # limits are inclusive: a diff equal to the maximum or agreement equal to the minimum passes
        fp32 = report(diff=gates.fp32_max_abs_logit_diff, agreement=gates.fp32_min_agreement)
        int8 = report(agreement=gates.int8_min_agreement, mcc=0.50, candidate_mcc=0.50 - gates.int8_max_mcc_drop / 2)
        assert check_gates(fp32, int8, gates) == []

    def test_int8_improving_mcc_is_not_a_drop(self) -> None:
        assert check_gates(GOOD_FP32, report(agreement=0.98, mcc=0.4, candidate_mcc=0.6), Gates()) == []

    @pytest.mark.parametrize(
        ("fp32", "int8", "expected"),
        [
            pytest.param(
                report(diff=2e-4),
                GOOD_INT8,
                "fp32 ONNX vs torch: max |logit diff| 2.00e-04 > 1e-04",
                id="fp32-diff",
            ),
            pytest.param(
                report(agreement=0.998),
                GOOD_INT8,
                "fp32 ONNX vs torch: prediction agreement 0.9980 < 1.0",
                id="fp32-agreement",
            ),
            pytest.param(
                GOOD_FP32,
                report(agreement=0.99, mcc=0.60, candidate_mcc=0.55),
                "int8 vs fp32: MCC 0.5500 vs 0.6000, drop 0.0500 > 0.02",
                id="int8-mcc-drop",
            ),
            pytest.param(
                GOOD_FP32,
                report(agreement=0.95),
                "int8 vs fp32: prediction agreement 0.9500 < 0.97",
                id="int8-agreement",
            ),
        ],
    )
    def test_each_failing_gate_gives_one_clear_message(
        self, fp32: dict[str, Any], int8: dict[str, Any], expected: str
    ) -> None:
        failures = check_gates(fp32, int8, Gates())
        assert len(failures) == 1
        assert failures[0].startswith(expected)

    def test_mcc_drop_message_suggests_the_quantization_knobs(self) -> None:
        (failure,) = check_gates(GOOD_FP32, report(agreement=0.99, mcc=0.6, candidate_mcc=0.3), Gates())
        assert "export.quantization.per_channel=true" in failure
        assert "export.quantization.keep_fp32" in failure

    def test_every_failing_gate_is_reported_at_once(self) -> None:
        failures = check_gates(
            report(diff=1.0, agreement=0.5), report(agreement=0.5, mcc=0.6, candidate_mcc=0.0), Gates()
        )
        assert len(failures) == 4
        assert sum(f.startswith("fp32 ONNX vs torch") for f in failures) == 2
        assert sum(f.startswith("int8 vs fp32") for f in failures) == 2

    def test_gates_come_from_the_arguments(self) -> None:
        strict = Gates(fp32_max_abs_logit_diff=1e-7, int8_min_agreement=0.999)
        failures = check_gates(GOOD_FP32, GOOD_INT8, strict)
        assert [f.split(":")[0] for f in failures] == ["fp32 ONNX vs torch", "int8 vs fp32"]

    def test_default_gates_match_the_export_config(self) -> None:
        from omegaconf import OmegaConf

        from tests.conftest import ROOT

        configured = OmegaConf.load(ROOT / "conf" / "export" / "default.yaml").gates
        assert Gates(**OmegaConf.to_container(configured)) == Gates()  # type: ignore[arg-type]


REFERENCE = np.array([[2.0, 0.0], [0.0, 2.0], [1.5, 0.5], [0.0, 1.0]], dtype=np.float32)
GOLD = [0, 1, 0, 1]


class TestParityReport:
    def test_identical_logits_have_no_difference_and_full_agreement(self) -> None:
        result = parity_report(REFERENCE, REFERENCE.copy(), GOLD)
        assert result["max_abs_logit_diff"] == 0.0
        assert result["prediction_agreement"] == 1.0
        assert result["reference"] == result["candidate"]
        assert result["reference"]["mcc"] == pytest.approx(1.0)
        assert result["reference"]["accuracy"] == pytest.approx(1.0)

    def test_difference_agreement_and_quality_of_a_changed_candidate(self) -> None:
        candidate = REFERENCE.copy()
        candidate[2] = [0.0, 1.0]  # flips row 2 to "acceptable": a wrong prediction
        candidate[0, 0] += 0.25  # moves a logit without changing the prediction
        result = parity_report(REFERENCE, candidate, GOLD)
        assert result["max_abs_logit_diff"] == pytest.approx(1.5)
        assert result["prediction_agreement"] == pytest.approx(0.75)
        assert result["reference"]["accuracy"] == pytest.approx(1.0)
        assert result["candidate"]["accuracy"] == pytest.approx(0.75)
        assert result["candidate"]["recall"] == pytest.approx(1.0)
        assert result["candidate"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
        assert result["candidate"]["mcc"] < result["reference"]["mcc"]
        assert set(result["candidate"]) == {"mcc", "accuracy", "f1", "precision", "recall"}

    def test_report_feeds_the_gates(self) -> None:
        fp32 = parity_report(REFERENCE, REFERENCE + 1e-6, GOLD)
        int8 = parity_report(REFERENCE, REFERENCE, GOLD)
        assert check_gates(fp32, int8, Gates()) == []


class TestBatches:
    def test_pads_each_batch_to_its_longest_sequence_with_the_pad_id(self) -> None:
        ids = [[101, 7, 102], [101, 102], [101, 8, 9, 10, 102], [101, 5, 102]]
        feeds = batches(ids, pad_id=1, size=2)
        assert len(feeds) == 2
        np.testing.assert_array_equal(feeds[0]["input_ids"], [[101, 7, 102], [101, 102, 1]])
        np.testing.assert_array_equal(feeds[0]["attention_mask"], [[1, 1, 1], [1, 1, 0]])
        np.testing.assert_array_equal(feeds[1]["input_ids"], [[101, 8, 9, 10, 102], [101, 5, 102, 1, 1]])
        np.testing.assert_array_equal(feeds[1]["attention_mask"], [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])

    def test_int64_inputs_in_order_with_a_short_last_batch(self) -> None:
        ids = [[i] * (i % 3 + 1) for i in range(7)]
        feeds = batches(ids, pad_id=0, size=3)
        assert [len(f["input_ids"]) for f in feeds] == [3, 3, 1]
        for feed in feeds:
            assert feed["input_ids"].dtype == np.int64
            assert feed["attention_mask"].dtype == np.int64
            assert feed["input_ids"].shape == feed["attention_mask"].shape
        unpadded = [
            row[mask.astype(bool)].tolist()
            for f in feeds
            for row, mask in zip(f["input_ids"], f["attention_mask"], strict=True)
        ]
        assert unpadded == ids

    def test_no_sequences_no_batches(self) -> None:
        assert batches([], pad_id=0, size=4) == []
