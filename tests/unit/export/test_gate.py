"""The quality gate judges a bundle's evaluation against conf/gate.yaml: the served model of a real `make all`
passes, a broken model fails, each missed floor is named with its figure and what to do, and `make gate`'s entry
point exits non-zero only then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chalice_app.chalicelib.contract.evaluation import write_evaluation
from chalice_app.chalicelib.contract.manifest import load_manifest
from export import gate
from export.behaviour.cases import DEFAULT_CONFIG as BEHAVIOUR_CONFIG
from tests.support.evaluations import SERVED_STUDENT, evaluation_of
from tests.support.manifests import write_minimal_bundle

FLOORS = gate.load_floors()

PLAIN_MINILM = {
    **SERVED_STUDENT,
    "dev_mcc": 0.4166,
    "int8_agreement": 0.9810,
    "behaviour.mft_well_formed": 0.867,
    "behaviour.mft_word_order": 0.800,
    "behaviour.mft_agreement": 0.300,
    "behaviour.mft_missing_argument": 0.800,
    "behaviour.inv_names": 0.917,
    "behaviour.inv_numbers": 0.950,
    "behaviour.inv_nouns": 0.817,
    "behaviour.dir_deletion": 0.933,
}
# A model that answers "acceptable" whatever the sentence (tests/unit/export/behaviour/test_run.py measures it).
ALWAYS_ACCEPTABLE = {
    **{name: 0.0 for name in SERVED_STUDENT},
    "int8_agreement": 1.0,
    "behaviour.mft_well_formed": 1.0,
    "behaviour.inv_names": 1.0,
    "behaviour.inv_numbers": 1.0,
    "behaviour.inv_nouns": 1.0,
}


@pytest.mark.parametrize("figures", [SERVED_STUDENT, PLAIN_MINILM], ids=["served student", "plain MiniLM"])
def test_the_trained_models_of_make_all_pass(figures: dict[str, float | None]) -> None:
    verdict = gate.judge(figures, FLOORS)
    assert verdict["passed"], [name for name, f in verdict["floors"].items() if not f["passed"]]


def test_a_constant_predictor_fails_on_mcc_the_unacceptable_cases_and_deletions() -> None:
    verdict = gate.judge(ALWAYS_ACCEPTABLE, FLOORS)
    missed = {name for name, result in verdict["floors"].items() if not result["passed"]}
    assert not verdict["passed"]
    assert missed == {
        "dev_mcc",
        "behaviour.mft_word_order",
        "behaviour.mft_agreement",
        "behaviour.mft_missing_argument",
        "behaviour.dir_deletion",
    }


def test_each_floor_is_judged_on_its_own_figure() -> None:
    for name in FLOORS.floors:
        just_below = {**SERVED_STUDENT, name: FLOORS.floors[name] - 0.001}
        verdict = gate.judge(just_below, FLOORS)
        assert [n for n, f in verdict["floors"].items() if not f["passed"]] == [name]
        assert verdict["floors"][name] == {"floor": FLOORS.floors[name], "value": just_below[name], "passed": False}


def test_a_figure_not_measured_fails_its_floor() -> None:
    verdict = gate.judge({**SERVED_STUDENT, "dev_mcc": None}, FLOORS)
    assert verdict["floors"]["dev_mcc"] == {"floor": FLOORS.floors["dev_mcc"], "value": None, "passed": False}


def test_every_behaviour_capability_and_the_issue_figures_have_a_floor() -> None:
    capabilities = yaml.safe_load(BEHAVIOUR_CONFIG.read_text())["capabilities"]
    assert set(FLOORS.floors) == {"dev_mcc", "int8_agreement", *(f"behaviour.{name}" for name in capabilities)}


def test_a_missed_floor_is_printed_with_its_figure_and_what_to_do(tmp_path: Path) -> None:
    verdict = gate.judge({**SERVED_STUDENT, "dev_mcc": 0.21, "behaviour.mft_agreement": 0.1}, FLOORS)
    lines = gate.verdict_lines(verdict, tmp_path / "distilled-minilm")
    assert "FAILED (2 of 10 floors missed)" in lines[0]
    dev = next(line for line in lines if "dev_mcc" in line)
    assert dev.lstrip().startswith("FAIL")
    assert "0.2100 < floor 0.4000" in dev
    assert "retrain (make all)" in dev
    agreement = next(line for line in lines if "mft_agreement" in line)
    assert "distilled-minilm-evaluation.json (behaviour.capabilities.mft_agreement.failures)" in agreement
    assert next(line for line in lines if "inv_names" in line).lstrip().startswith("pass")


class TestFloorsConfig:
    def write(self, tmp_path: Path, content: dict[str, Any]) -> Path:
        path = tmp_path / "gate.yaml"
        path.write_text(yaml.safe_dump(content))
        return path

    def test_the_project_floors_load_flat(self) -> None:
        assert FLOORS.dev_split == "dev"
        assert FLOORS.floors["behaviour.mft_agreement"] == pytest.approx(0.25)

    @pytest.mark.parametrize(
        ("floors", "message"),
        [
            ({"dev_mcc": 1.5}, r"floors.dev_mcc must be a number in \[-1, 1\]"),
            ({"int8_agreement": "high"}, r"floors.int8_agreement must be a number in \[0, 1\]"),
            ({"behaviour": {"inv_names": -0.1}}, r"floors.behaviour.inv_names must be a number in \[0, 1\]"),
            ({"dev_f1": 0.5}, "unknown floor 'dev_f1'"),
            ({"behaviour": [0.5]}, "floors.behaviour must map capabilities"),
        ],
    )
    def test_a_bad_floor_is_refused_naming_it(self, tmp_path: Path, floors: dict[str, Any], message: str) -> None:
        with pytest.raises(gate.GateConfigError, match=message):
            gate.load_floors(self.write(tmp_path, {"dev_split": "dev", "floors": floors}))

    def test_a_config_without_floors_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(gate.GateConfigError, match="must have dev_split"):
            gate.load_floors(self.write(tmp_path, {"dev_split": "dev"}))


PARITY = {"fp32_vs_torch": {"prediction_agreement": 1.0}, "int8_vs_fp32": {"prediction_agreement": 0.983}}


class TestServedAgreement:
    def test_an_int8_bundle_is_judged_on_int8_against_fp32(self, tmp_path: Path) -> None:
        serving = {"model_file": "model.int8.onnx", "precision": "int8", "reason": "", "session_batch": {}}
        write_minimal_bundle(tmp_path / "b", parity=PARITY, serving=serving)
        assert gate.served_agreement(load_manifest(tmp_path / "b")) == pytest.approx(0.983)

    def test_an_fp32_bundle_is_judged_on_fp32_against_torch(self, tmp_path: Path) -> None:
        write_minimal_bundle(tmp_path / "b", parity=PARITY)
        assert gate.served_agreement(load_manifest(tmp_path / "b")) == 1.0

    def test_a_bundle_without_parity_has_no_figure(self, tmp_path: Path) -> None:
        write_minimal_bundle(tmp_path / "b")
        assert gate.served_agreement(load_manifest(tmp_path / "b")) is None


@pytest.fixture
def int8_bundle(tmp_path: Path) -> Path:
    parity = {"fp32_vs_torch": {"prediction_agreement": 1.0}, "int8_vs_fp32": {"prediction_agreement": 0.9829}}
    serving = {"model_file": "model.int8.onnx", "precision": "int8", "reason": "", "session_batch": {}}
    write_minimal_bundle(tmp_path / "distilled-minilm", parity=parity, serving=serving)
    return tmp_path / "distilled-minilm"


class TestEntryPoint:
    def test_a_bundle_that_meets_every_floor_passes(
        self, int8_bundle: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        write_evaluation(int8_bundle, evaluation_of(int8_bundle, SERVED_STUDENT))
        assert gate.main([str(int8_bundle)]) == 0
        assert "PASSED" in capsys.readouterr().out

    def test_a_missed_floor_exits_1_naming_it(self, int8_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
        write_evaluation(int8_bundle, evaluation_of(int8_bundle, {**SERVED_STUDENT, "behaviour.dir_deletion": 0.5}))
        assert gate.main([str(int8_bundle)]) == 1
        out = capsys.readouterr().out
        assert "FAIL behaviour.dir_deletion" in out
        assert "quality gate FAILED" in out

    def test_warn_only_prints_the_verdict_and_exits_0(
        self, int8_bundle: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        write_evaluation(int8_bundle, evaluation_of(int8_bundle, {**SERVED_STUDENT, "dev_mcc": 0.1}))
        assert gate.main([str(int8_bundle), "--warn-only"]) == 0
        assert "FAIL dev_mcc" in capsys.readouterr().out

    def test_floors_are_those_of_today_not_those_the_evaluation_recorded(
        self, int8_bundle: Path, tmp_path: Path
    ) -> None:
        write_evaluation(int8_bundle, evaluation_of(int8_bundle, SERVED_STUDENT))
        stricter = yaml.safe_load(gate.DEFAULT_FLOORS.read_text())
        stricter["floors"]["dev_mcc"] = 0.5
        (tmp_path / "strict.yaml").write_text(yaml.safe_dump(stricter))
        assert gate.main([str(int8_bundle), "--floors", str(tmp_path / "strict.yaml")]) == 1

    def test_an_unevaluated_bundle_exits_2_with_the_command_to_run(
        self, int8_bundle: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert gate.main([str(int8_bundle)]) == 2
        assert "make evaluate-bundle RUN=distilled-minilm" in capsys.readouterr().err

    def test_an_evaluation_of_another_model_is_stale(
        self, int8_bundle: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        evaluation = evaluation_of(int8_bundle, SERVED_STUDENT)
        write_evaluation(int8_bundle, {**evaluation, "model_version": "m-000000000000"})
        assert gate.main([str(int8_bundle)]) == 2
        assert "stale" in capsys.readouterr().err
