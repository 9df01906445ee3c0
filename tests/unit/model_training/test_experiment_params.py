"""params.yaml → Hydra overrides: what `dvc exp run -S key=value` changes reaches the training, nothing else does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model_training.experiment_params import ParamsError, load, main, overrides
from tests.conftest import ROOT


def test_null_knobs_add_nothing() -> None:
    assert overrides({"seed": None, "training": {"lr": None, "batch_size": None}}) == []


def test_set_knobs_become_dotted_overrides_in_file_order() -> None:
    params = {"seed": 7, "training": {"lr": 3e-05, "batch_size": None, "max_epochs": 2}, "model": {"dropout": 0.1}}
    assert overrides(params) == ["seed=7", "training.lr=3e-05", "training.max_epochs=2", "model.dropout=0.1"]


def test_booleans_and_plain_words_pass_through() -> None:
    assert overrides({"data": {"group_by_length": True, "padding": "dynamic"}}) == [
        "data.group_by_length=true",
        "data.padding=dynamic",
    ]


@pytest.mark.parametrize("value", [[1, 2], "two words", "$(rm -rf x)", ""])
def test_values_that_cannot_be_one_override_are_refused_by_name(value: object) -> None:
    with pytest.raises(ParamsError, match=r"training\.lr"):
        overrides({"training": {"lr": value}})


def test_the_committed_params_file_changes_nothing() -> None:
    """With params.yaml as committed, `dvc repro` trains exactly what `make train` trains."""
    assert overrides(load(ROOT / "params.yaml")) == []


def test_cli_prints_the_overrides(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("training:\n  lr: 3.0e-5\n  batch_size: 16\n")
    done = subprocess.run(
        [sys.executable, "-m", "model_training.experiment_params", str(tmp_path / "params.yaml")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["training.lr=3e-05", "training.batch_size=16"]


def test_missing_or_malformed_file_fails_with_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "absent.yaml")]) == 1
    assert "absent.yaml not found" in capsys.readouterr().err
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert main([str(tmp_path / "list.yaml")]) == 1
    assert "must be a mapping" in capsys.readouterr().err
