"""Where the student starts: its encoder's pretrained checkpoint, or a run that already fine-tuned it on CoLA.

`distill.student_init` names a finished run (`artifacts/runs/<run>`, e.g. the plain MiniLM that `make all` trains
as the yardstick). The student then starts from that run's `model/` (encoder and classifier head), pinned by the
sha256 of its weights, and the distillation refines it on the transfer set. Why: docs/training.md (student
initialisation), measured on training sentences held out for the choice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from model_training.data.cola import sha256_file
from model_training.models.pretrained import WEIGHTS_FILE


class StudentInitError(RuntimeError):
    """The run the student should start from is missing, incomplete, or fine-tuned another encoder."""


def init_run_dir(runs_dir: Path, run: str) -> Path:
    """The run's directory, checked to hold a model and its metrics; the error says how to make them."""
    run_dir = runs_dir / run
    needed = (f"model/{WEIGHTS_FILE}", "model/config.json", "metrics.json")
    missing = [name for name in needed if not (run_dir / name).is_file()]
    if missing:
        raise StudentInitError(
            f"distill.student_init={run!r}: {run_dir} has no {', '.join(missing)}. Train that run first "
            f"(make train RUN={run}), or start from the pretrained checkpoint with distill.student_init=null."
        )
    return run_dir


def start_from_run(cfg: DictConfig) -> dict[str, Any] | None:
    """Point `cfg.model` at the init run's weights (pinned by their hash); returns what metrics.json records.

    None (and `cfg` unchanged) when `distill.student_init` is null: the student starts from its pretrained encoder.
    """
    run = cfg.distill.student_init
    if not run:
        return None
    run_dir = init_run_dir(Path(cfg.distill.runs_dir), str(run))
    weights_sha256 = sha256_file(run_dir / "model" / WEIGHTS_FILE)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if metrics.get("model", {}).get("name", cfg.model.name) != cfg.model.name:
        raise StudentInitError(
            f"distill.student_init={run!r} fine-tuned {metrics['model']['name']!r}, not the student's encoder "
            f"{cfg.model.name!r}: pick a run of model={cfg.model.name}."
        )
    with open_dict(cfg):
        cfg.model.path = str(run_dir / "model")
        cfg.model.sha256 = weights_sha256
    return {
        "run_name": str(run),
        "weights_sha256": weights_sha256,
        "best": metrics.get("best"),
        "fingerprint": metrics.get("machine", {}).get("fingerprint"),
    }
