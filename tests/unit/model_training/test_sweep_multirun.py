"""A real Hydra multirun: every job keeps its own outputs and summary.json names the best one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_multirun_writes_each_job_and_a_summary_naming_the_best(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "model_training.train",
        "-m",
        "preset=smoke",
        "logger=none",
        "training.max_epochs=1",
        "data.limit_train=16",
        "trainer.enable_progress_bar=false",
        "training.lr=1e-4,3e-5",
        f"hydra.sweep.dir={sweep_dir}",
        f"paths.pretrained_cache={ROOT / 'artifacts' / 'pretrained'}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    for job in ("0", "1"):
        assert (sweep_dir / job / "metrics.json").is_file()
        assert (sweep_dir / job / "checkpoints" / "best.ckpt").is_file()
    lrs = {json.loads((sweep_dir / j / "metrics.json").read_text())["config"]["training"]["lr"] for j in ("0", "1")}
    assert lrs == {1e-4, 3e-5}

    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert len(summary["runs"]) == 2
    scores = [run["best/val_mcc"] for run in summary["runs"]]
    assert summary["best"]["best/val_mcc"] == max(scores)
    assert summary["best"]["dir"] in {str(sweep_dir / "0"), str(sweep_dir / "1")}
    assert any(o.startswith("training.lr=") for o in summary["best"]["overrides"])
