"""history.csv: the per-epoch metrics a run writes beside metrics.json, as the data `dvc plots` draws."""

from __future__ import annotations

import csv
from pathlib import Path

from model_training.callbacks import write_history_csv


def test_one_row_per_epoch_epoch_column_first(tmp_path: Path) -> None:
    history = [
        {"epoch": 0.0, "val/mcc": 0.1, "train/loss_epoch": 0.7},
        {"epoch": 1.0, "val/mcc": 0.3, "train/loss_epoch": 0.5},
    ]
    write_history_csv(tmp_path / "history.csv", history)
    with (tmp_path / "history.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "train/loss_epoch", "val/mcc"]
    assert [{k: float(v) for k, v in row.items()} for row in rows] == history


def test_a_metric_missing_in_some_epoch_leaves_its_cell_empty(tmp_path: Path) -> None:
    write_history_csv(tmp_path / "history.csv", [{"epoch": 0.0}, {"epoch": 1.0, "val/mcc": 0.2}])
    with (tmp_path / "history.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"epoch": "0.0", "val/mcc": ""}, {"epoch": "1.0", "val/mcc": "0.2"}]
