"""The int8 model a bundle ships: the base settings first, then each fallback, until one passes the gates; every
attempt is recorded, and a fallback that names an unknown option is refused."""

from __future__ import annotations

import pytest

from chalice_app.chalicelib.contract.manifest import Int8Settings, ParityReport
from export.int8 import first_passing, int8_candidates

BASE = {"int8": True, "per_channel": True, "reduce_range": True, "keep_fp32": []}
OUT_PROJ = ["attention/output/dense/MatMul", r"layer\.\d+/output/dense/MatMul"]


def report(agreement: float, mcc: float = 0.45) -> ParityReport:
    return {
        "max_abs_logit_diff": 0.5,
        "prediction_agreement": agreement,
        "reference": {"mcc": 0.46, "accuracy": 0.8},
        "candidate": {"mcc": mcc, "accuracy": 0.8},
    }


class Recorder:
    """Stands in for quantize-and-gate: a fixed agreement per setting (keyed by its fp32 patterns), gate 0.97."""

    def __init__(self, agreement_by_kept: dict[tuple[str, ...], float]) -> None:
        self.agreement_by_kept = agreement_by_kept
        self.tried: list[Int8Settings] = []

    def __call__(self, settings: Int8Settings) -> tuple[ParityReport, list[str], int]:
        self.tried.append(settings)
        agreement = self.agreement_by_kept[tuple(settings["keep_fp32"])]
        failures = [] if agreement >= 0.97 else [f"int8 vs fp32: prediction agreement {agreement:.4f} < 0.97"]
        return report(agreement), failures, 6 * len(settings["keep_fp32"])


class TestCandidates:
    def test_without_fallbacks_only_the_base_setting_is_tried(self) -> None:
        assert int8_candidates(BASE) == [{"per_channel": True, "reduce_range": True, "keep_fp32": [], "fp32_nodes": 0}]

    def test_a_fallback_changes_only_what_it_names(self) -> None:
        candidates = int8_candidates({**BASE, "fallbacks": [{"keep_fp32": OUT_PROJ}, {"reduce_range": False}]})
        assert [c["keep_fp32"] for c in candidates] == [[], OUT_PROJ, []]
        assert [c["reduce_range"] for c in candidates] == [True, True, False]
        assert all(c["per_channel"] for c in candidates)

    def test_a_null_option_keeps_the_base_value(self) -> None:
        fallback = {"per_channel": None, "reduce_range": None, "keep_fp32": OUT_PROJ}
        assert int8_candidates({**BASE, "fallbacks": [fallback]})[1]["per_channel"] is True

    def test_an_unknown_option_is_refused_with_the_allowed_ones(self) -> None:
        with pytest.raises(ValueError, match=r"fallbacks\[0\] sets weight_type: a fallback may set only per_channel"):
            int8_candidates({**BASE, "fallbacks": [{"weight_type": "QUInt8"}]})


class TestFirstPassing:
    def test_the_base_setting_ships_when_it_passes_and_no_fallback_is_built(self) -> None:
        attempt = Recorder({(): 0.98, tuple(OUT_PROJ): 0.99})
        got, attempts = first_passing(int8_candidates({**BASE, "fallbacks": [{"keep_fp32": OUT_PROJ}]}), attempt)
        settings, failures = attempts[-1]["settings"], attempts[-1]["failures"]  # the last one tried
        assert len(attempt.tried) == 1
        assert (settings["keep_fp32"], got["prediction_agreement"], failures) == ([], 0.98, [])
        assert [a["failures"] for a in attempts] == [[]]

    def test_a_failing_base_setting_falls_back_to_the_next_and_records_both(self) -> None:
        attempt = Recorder({(): 0.9639, tuple(OUT_PROJ): 0.9848})
        got, attempts = first_passing(int8_candidates({**BASE, "fallbacks": [{"keep_fp32": OUT_PROJ}]}), attempt)
        settings, failures = attempts[-1]["settings"], attempts[-1]["failures"]  # the last one tried
        assert settings == {"per_channel": True, "reduce_range": True, "keep_fp32": OUT_PROJ, "fp32_nodes": 12}
        assert (got["prediction_agreement"], failures) == (0.9848, [])
        tried = [(a["prediction_agreement"], a["settings"]["fp32_nodes"]) for a in attempts]
        assert tried == [(0.9639, 0), (0.9848, 12)]
        assert attempts[0]["failures"] == ["int8 vs fp32: prediction agreement 0.9639 < 0.97"]
        assert attempts[1]["mcc"] == 0.45

    def test_when_every_setting_fails_the_last_one_is_reported_with_its_failures(self) -> None:
        attempt = Recorder({(): 0.95, tuple(OUT_PROJ): 0.96})
        _got, attempts = first_passing(int8_candidates({**BASE, "fallbacks": [{"keep_fp32": OUT_PROJ}]}), attempt)
        settings, failures = attempts[-1]["settings"], attempts[-1]["failures"]  # the last one tried
        assert settings["keep_fp32"] == OUT_PROJ
        assert failures == ["int8 vs fp32: prediction agreement 0.9600 < 0.97"]
        assert len(attempts) == 2
        assert all(a["failures"] for a in attempts)

    def test_nothing_to_try_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="no int8 settings"):
            first_passing([], Recorder({}))
