"""The release's gates that need no AWS: dvc.lock staleness from `dvc status --json`, `make gate`'s judgement
of the committed manifest and evaluation (put back by `unpin`), and the committed manifest against the pulled
bundle.

`dvc status` itself runs for real in tests/integration/test_release_gate_dvc.py; here its JSON (in the shapes
that test records from dvc) is classified.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from export import gate
from infra.release_gate import GateError, main, stale_entries, unpin, verify_pin
from tests.support.evaluations import SERVED_STUDENT, evaluation_of
from tests.support.manifests import write_minimal_bundle

OUTPUTS = {"artifacts/runs/distilled-minilm/model", "artifacts/bundles/distilled-minilm"}


def test_outputs_missing_because_nothing_was_pulled_are_not_stale() -> None:
    status = {
        "student_export": [
            {"changed deps": {"artifacts/runs/distilled-minilm/model": "deleted"}},
            {"changed outs": {"artifacts/bundles/distilled-minilm": "not in cache"}},
        ],
        "student_evaluate": [{"changed deps": {"artifacts/bundles/distilled-minilm": "deleted"}}],
    }
    assert stale_entries(status, OUTPUTS) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"changed deps": {"export": "modified"}}, "dep export modified"),
        ({"changed deps": {"export/build.py": "deleted"}}, "dep export/build.py deleted"),  # code, not an output
        ({"changed deps": {"params.yaml": {"training.lr": "modified"}}}, "param params.yaml:training.lr modified"),
        ({"changed outs": {"artifacts/bundles/distilled-minilm": "modified"}}, "out artifacts/bundles/distilled"),
        ("changed command", "student_export: changed command"),
    ],
)
def test_a_changed_dependency_parameter_or_command_is_stale(change: Any, named: str) -> None:
    found = stale_entries({"student_export": [change]}, OUTPUTS)
    assert len(found) == 1
    assert named in found[0]


@pytest.fixture
def pinned(tmp_path: Path) -> Path:
    """release/ as `make release-pin` leaves it: the served bundle's manifest and its evaluation."""
    parity = {"fp32_vs_torch": {"prediction_agreement": 1.0}, "int8_vs_fp32": {"prediction_agreement": 0.9829}}
    serving = {"model_file": "model.int8.onnx", "precision": "int8", "reason": "", "session_batch": {}}
    write_minimal_bundle(tmp_path / "built" / "distilled-minilm", parity=parity, serving=serving)
    pin = tmp_path / "release"
    pin.mkdir()
    shutil.copyfile(tmp_path / "built" / "distilled-minilm" / "manifest.json", pin / "manifest.json")
    return pin


def write_pinned_evaluation(pin: Path, figures: dict[str, float | None]) -> None:
    evaluation = evaluation_of(pin.parent / "built" / "distilled-minilm", figures)
    (pin / "evaluation.json").write_text(json.dumps(evaluation))


def test_make_gate_judges_the_committed_bundle_after_unpin(pinned: Path, tmp_path: Path) -> None:
    write_pinned_evaluation(pinned, SERVED_STUDENT)
    bundle = unpin("distilled-minilm", pinned, tmp_path / "bundles")
    assert bundle == tmp_path / "bundles" / "distilled-minilm"
    assert gate.main([str(bundle)]) == 0


def test_a_committed_bundle_below_a_floor_fails_make_gate(pinned: Path, tmp_path: Path) -> None:
    write_pinned_evaluation(pinned, {**SERVED_STUDENT, "dev_mcc": 0.1})
    assert gate.main([str(unpin("distilled-minilm", pinned, tmp_path / "bundles"))]) == 1


def test_nothing_committed_is_refused_with_what_to_run(pinned: Path, tmp_path: Path) -> None:
    with pytest.raises(GateError, match=r"evaluation.json is not committed.*make release-pin"):
        unpin("distilled-minilm", pinned, tmp_path / "bundles")


def test_the_pulled_bundle_must_be_the_committed_one(pinned: Path, tmp_path: Path) -> None:
    pulled = tmp_path / "built" / "distilled-minilm"
    verify_pin(pulled, pinned)
    committed = pinned / "manifest.json"
    committed.write_text(json.dumps({**json.loads(committed.read_text()), "model_version": "m-other"}))
    with pytest.raises(GateError, match="not the manifest committed"):
        verify_pin(pulled, pinned)


def test_cli_exits_1_with_the_reason(pinned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-pin", str(tmp_path / "nowhere"), "--pin", str(pinned)]) == 1
    assert "the pull did not bring the bundle" in capsys.readouterr().err
    assert main(["verify-pin", str(tmp_path / "built" / "distilled-minilm"), "--pin", str(pinned)]) == 0
