"""`make evaluate-bundle` (export.evaluate) on a deliberately weak bundle, a model that answers the same for every
sentence, served by the real runtime predictor: the evaluation holds the dev scores, every behaviour capability
and the gate's verdict, and `make gate` (export.gate) then refuses the bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chalice_app.chalicelib.contract.evaluation import load_evaluation
from export import evaluate, gate
from export.behaviour.cases import DEFAULT_CONFIG as BEHAVIOUR_CONFIG
from tests.conftest import ROOT
from tests.support.constant_bundle import write_constant_bundle

DEV = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"
CAPABILITIES = list(yaml.safe_load(BEHAVIOUR_CONFIG.read_text())["capabilities"])


@pytest.fixture
def weak_bundle(tmp_path: Path) -> Path:
    write_constant_bundle(tmp_path / "weak", logits=(-1.0, 1.0))
    return tmp_path / "weak"


def test_the_evaluation_of_a_constant_model_records_its_failures(
    weak_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert evaluate.main([str(weak_bundle), f"dev={DEV}"]) == 0
    evaluation = load_evaluation(weak_bundle)
    assert evaluation["splits"]["dev"]["n"] == 527
    assert evaluation["splits"]["dev"]["mcc"] == 0.0
    assert list(evaluation["behaviour"]["capabilities"]) == CAPABILITIES
    assert evaluation["behaviour"]["capabilities"]["mft_agreement"]["pass_rate"] == 0.0
    assert not evaluation["gate"]["passed"]
    assert not evaluation["gate"]["floors"]["dev_mcc"]["passed"]
    assert evaluation["gate"]["floors"]["int8_agreement"]["value"] is None  # a test bundle records no parity
    out = capsys.readouterr().out
    assert "behaviour (480 cases" in out
    assert "FAIL dev_mcc" in out
    assert "FAIL behaviour.mft_agreement" in out


def test_make_gate_refuses_the_weak_bundle(weak_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evaluate.main([str(weak_bundle), f"dev={DEV}"])
    capsys.readouterr()
    assert gate.main([str(weak_bundle)]) == 1
    out = capsys.readouterr().out
    assert "FAILED (6 of 10 floors missed)" in out
    assert "quality gate FAILED" in out


def test_a_broken_behaviour_config_is_an_error_before_anything_runs(
    weak_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "behaviour.yaml"
    broken.write_text(BEHAVIOUR_CONFIG.read_text().replace("{name}", "{nme}", 1))
    assert evaluate.main([str(weak_bundle), f"dev={DEV}", "--behaviour", str(broken)]) == 2
    assert "unknown word class 'nme'" in capsys.readouterr().err
    assert not (tmp_path / "weak-evaluation.json").exists()
