"""Callbacks: epoch history, and per-epoch W&B reports (confusion matrix, misclassified sentences)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib.pyplot as plt
import torch
from lightning.pytorch.loggers import WandbLogger

from chalice_app.chalicelib.labels import LABELS
from model_training.plots import confusion_matrix_figure

log = logging.getLogger(__name__)


class HistoryRecorder(L.Callback):
    """Keep one row of metrics per epoch (after validation), for metrics.json and the curves plot."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        row: dict[str, float] = {"epoch": float(trainer.current_epoch), "step": float(trainer.global_step)}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")) and not key.endswith("_step"):
                row[key] = float(value)
        self.history.append(row)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k.endswith(("loss_epoch", "val/loss", "val/mcc")))
        log.info("epoch %d: %s", trainer.current_epoch, shown)


def write_history_csv(path: Path, history: Sequence[dict[str, float]]) -> None:
    """The epoch history as CSV, epoch first (the data of training_curves.png, for `dvc plots`)."""
    columns = sorted({key for row in history for key in row}, key=lambda key: (key != "epoch", key))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def misclassified_rows(
    sentences: list[str], labels: list[int], probs: torch.Tensor, limit: int | None = None
) -> list[list[Any]]:
    """[sentence, gold, predicted, score of the predicted label] for each wrong prediction, most confident first."""
    rows = []
    for sentence, gold, p in zip(sentences, labels, probs.tolist(), strict=True):
        predicted = int(p >= 0.5)
        if predicted != gold:
            rows.append([sentence, LABELS[gold], LABELS[predicted], round(max(p, 1 - p), 4)])
    rows.sort(key=lambda row: -row[3])
    return rows[:limit] if limit is not None else rows


class WandbValidationReport(L.Callback):
    """Each validation epoch: a confusion matrix image and a table of misclassified validation sentences."""

    def __init__(self, max_rows: int = 200) -> None:
        self.max_rows = max_rows

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        probs = getattr(pl_module, "last_val_probs", None)
        matrix = getattr(pl_module, "last_val_confusion", None)
        if not loggers or probs is None or matrix is None or trainer.sanity_checking:
            return
        datamodule = trainer.datamodule  # type: ignore[attr-defined]
        rows = misclassified_rows(
            datamodule.sentences("validation"), datamodule.labels("validation"), probs, self.max_rows
        )
        fig = confusion_matrix_figure(matrix.tolist(), LABELS, f"validation, epoch {trainer.current_epoch}")
        for logger in loggers:
            logger.log_table(
                key="val/misclassified",
                columns=["sentence", "gold", "predicted", "score"],
                data=rows,
                step=trainer.global_step,
            )
            logger.log_image(key="val/confusion_matrix", images=[fig], step=trainer.global_step)
        plt.close(fig)
