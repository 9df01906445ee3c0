"""Hydra callback: after a multirun, write summary.json naming the best run by a metric."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def summarize_sweep(sweep_dir: Path, metric: str = "best/val_mcc") -> dict[str, Any]:
    """Read each job's metrics.json under a sweep directory and rank them by `metric` (higher is better)."""
    section, _, key = metric.partition("/")
    runs = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        overrides_file = metrics_file.parent / ".hydra" / "overrides.yaml"
        runs.append(
            {
                "dir": str(metrics_file.parent),
                "overrides": (yaml.safe_load(overrides_file.read_text()) or []) if overrides_file.exists() else [],
                metric: metrics.get(section, {}).get(key),
            }
        )
    ranked = sorted((r for r in runs if r[metric] is not None), key=lambda r: -r[metric])
    return {"metric": metric, "best": ranked[0] if ranked else None, "runs": ranked}


class SweepSummary(Callback):
    """Writes <sweep dir>/summary.json at the end of a multirun."""

    def __init__(self, metric: str = "best/val_mcc") -> None:
        self.metric = metric

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        summary = summarize_sweep(sweep_dir, self.metric)
        (sweep_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        if summary["best"]:
            log.info("best run: %s (%s = %.4f)", summary["best"]["dir"], self.metric, summary["best"][self.metric])
