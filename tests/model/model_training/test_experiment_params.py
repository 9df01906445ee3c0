"""params.yaml → Hydra overrides, end to end: `make train` stops on a bad params file instead of training on the
defaults (imports the training stack: seconds)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(("lr", "started"), [("[1, 2]", False), ("1.0e-3", True)])
def test_make_train_stops_on_bad_params_instead_of_training_on_defaults(tmp_path: Path, lr: str, started: bool) -> None:
    """MODEL=no-such-model makes a started training fail at once in Hydra, which shows whether it started."""
    (tmp_path / "params.yaml").write_text(f"training:\n  lr: {lr}\n")
    done = subprocess.run(
        ["make", "-s", "train", f"PARAMS={tmp_path / 'params.yaml'}", "STAMP=", "MODEL=no-such-model"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert ("Could not find 'model/no-such-model'" in done.stderr) is started
    assert ("error: training.lr" in done.stderr) is not started
