"""The release's gates that need no AWS: dvc.lock staleness from `dvc status --json`, the quality floors on the
served model's manifest figures, and the committed manifest against the pulled bundle.

`dvc status` itself runs for real in tests/integration/test_release_gate_dvc.py; here its JSON (in the shapes
that test records from dvc) is classified.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.release_gate import (
    FLOORS_FILE,
    GateError,
    check_quality,
    load_floors,
    main,
    stale_entries,
    verify_pin,
)
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


def manifest(tmp_path: Path, mcc: float, agreement: float, model_file: str = "model.int8.onnx") -> Path:
    report = {"prediction_agreement": agreement, "candidate": {"mcc": mcc}, "reference": {"mcc": mcc}}
    write_minimal_bundle(
        tmp_path / "bundle",
        files={"tokenizer.json": b"{}", model_file: b"onnx"},
        serving={"model_file": model_file, "precision": "int8", "reason": "test", "session_batch": {}},
        parity={"split": "validation", "n": 527, "int8_vs_fp32": report, "fp32_vs_torch": {**report, "x": 1}},
    )
    return tmp_path / "bundle" / "manifest.json"


def test_the_floors_are_read_from_conf() -> None:
    assert load_floors() == {"dev_mcc": 0.40, "int8_agreement": 0.97}


def test_a_bundle_at_the_floors_passes(tmp_path: Path) -> None:
    assert check_quality(manifest(tmp_path, 0.454, 0.983), load_floors()) == {"dev_mcc": 0.454, "int8_agreement": 0.983}


@pytest.mark.parametrize(("mcc", "agreement", "named"), [(0.0, 1.0, "dev_mcc 0.0000 < 0.4000"), (0.5, 0.9, "int8")])
def test_a_bundle_below_a_floor_is_refused_naming_it(tmp_path: Path, mcc: float, agreement: float, named: str) -> None:
    with pytest.raises(GateError, match=named):
        check_quality(manifest(tmp_path, mcc, agreement), load_floors())


def test_a_manifest_without_parity_figures_is_refused(tmp_path: Path) -> None:
    write_minimal_bundle(tmp_path / "bundle")
    with pytest.raises(GateError, match=r"no parity figures.*make export"):
        check_quality(tmp_path / "bundle" / "manifest.json", load_floors())


@pytest.mark.parametrize("floors", ["floors: {dev_mcc: 0.4}", "floors: {dev_mcc: 2, int8_agreement: 0.9}"])
def test_malformed_floors_are_refused(tmp_path: Path, floors: str) -> None:
    (tmp_path / "release.yaml").write_text(floors)
    with pytest.raises(GateError, match="floors"):
        load_floors(tmp_path / "release.yaml")


def test_the_pulled_bundle_must_be_the_committed_one(tmp_path: Path) -> None:
    pulled = manifest(tmp_path, 0.45, 0.98)
    pin = tmp_path / "pin.json"
    pin.write_bytes(pulled.read_bytes())
    verify_pin(pulled.parent, pin)
    pin.write_text(json.dumps({**json.loads(pulled.read_text()), "model_version": "m-other"}))
    with pytest.raises(GateError, match="not the manifest committed"):
        verify_pin(pulled.parent, pin)


def test_cli_exits_1_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", str(manifest(tmp_path, 0.1, 0.99)), "--floors", str(FLOORS_FILE)]) == 1
    assert "below the release floors" in capsys.readouterr().err
    assert main(["quality", str(manifest(tmp_path, 0.5, 0.99))]) == 0
