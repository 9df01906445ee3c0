"""`make evaluate-bundle` on a real exported bundle (the session's smoke model, trained for seconds): the
behaviour tests run through the served int8 model, and the quality gate refuses a model that has barely trained."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalice_app.chalicelib.contract.evaluation import load_evaluation
from chalice_app.chalicelib.contract.manifest import load_manifest
from export import evaluate, gate
from export.behaviour.cases import generate, load_config
from tests.conftest import ROOT

DEV = ROOT / "data" / "cola" / "raw" / "in_domain_dev.tsv"


def test_the_smoke_bundle_is_evaluated_through_its_served_model_and_refused(
    bundle_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert evaluate.main([str(bundle_copy), f"dev={DEV}"]) == 0
    manifest = load_manifest(bundle_copy)
    evaluation = load_evaluation(bundle_copy, manifest["model_version"])
    assert evaluation["model_file"] == manifest["serving"]["model_file"]
    behaviour = evaluation["behaviour"]
    assert behaviour["n_cases"] == len(generate(load_config()))
    assert all(0.0 <= c["pass_rate"] <= 1.0 for c in behaviour["capabilities"].values())
    assert evaluation["gate"]["floors"]["int8_agreement"]["value"] is not None  # from the export's parity
    assert not evaluation["gate"]["floors"]["dev_mcc"]["passed"]
    capsys.readouterr()
    assert gate.main([str(bundle_copy)]) == 1
    assert "FAIL dev_mcc" in capsys.readouterr().out
