"""A real Hydra multirun over the learning-rate grid of `make sweep` (hparams_search=lr): every job keeps its own
outputs and summary.json names the best one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_multirun_writes_each_job_and_a_summary_naming_the_best(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "model_training.train",
        "-m",
        "hparams_search=lr",
        "debug=smoke",
        "logger=none",
        "training.max_epochs=1",
        "data.limit_train=16",
        "trainer.enable_progress_bar=false",
        f"hydra.sweep.dir={sweep_dir}",
        f"paths.pretrained_cache={ROOT / 'artifacts' / 'pretrained'}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    jobs = ("0", "1", "2")
    for job in jobs:
        assert (sweep_dir / job / "metrics.json").is_file()
        assert (sweep_dir / job / "checkpoints" / "best.ckpt").is_file()
    lrs = [json.loads((sweep_dir / j / "metrics.json").read_text())["config"]["training"]["lr"] for j in jobs]
    assert lrs == [5e-5, 1e-4, 2e-4]  # conf/hparams_search/lr.yaml's grid, in order

    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert len(summary["runs"]) == 3
    scores = [run["best/val_mcc"] for run in summary["runs"]]
    assert summary["best"]["best/val_mcc"] == max(scores)
    assert summary["best"]["dir"] in {str(sweep_dir / job) for job in jobs}
    assert any(o.startswith("training.lr=") for o in summary["best"]["overrides"])
