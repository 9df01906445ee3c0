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
    sentences: list[str], gold: list[int], probs: torch.Tensor, label_names: Sequence[str], limit: int | None = None
) -> list[list[Any]]:
    """[sentence, gold, predicted, score of the predicted label] for each wrong prediction, most confident first.

    `probs` is P(class 1) per sentence; labels are written by name (`label_names`, index = class id).
    """
    rows = []
    for sentence, label, p in zip(sentences, gold, probs.tolist(), strict=True):
        predicted = int(p >= 0.5)
        if predicted != label:
            rows.append([sentence, label_names[label], label_names[predicted], round(max(p, 1 - p), 4)])
    rows.sort(key=lambda row: -row[3])
    return rows[:limit] if limit is not None else rows


class WandbValidationReport(L.Callback):
    """Each validation epoch: a confusion matrix image and a table of misclassified validation sentences (rank 0
    only under DDP)."""

    def __init__(self, label_names: Sequence[str], max_rows: int = 200) -> None:
        self.label_names = list(label_names)
        self.max_rows = max_rows

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        probs = getattr(pl_module, "last_val_probs", None)
        matrix = getattr(pl_module, "last_val_confusion", None)
        if not trainer.is_global_zero or not loggers or probs is None or matrix is None or trainer.sanity_checking:
            return  # under DDP the module has gathered the whole set; rank 0 reports it
        datamodule = trainer.datamodule  # type: ignore[attr-defined]
        rows = misclassified_rows(
            datamodule.sentences("validation"), datamodule.labels("validation"), probs, self.label_names, self.max_rows
        )
        title = f"validation, epoch {trainer.current_epoch}"
        fig = confusion_matrix_figure(matrix.tolist(), self.label_names, title)
        for logger in loggers:
            logger.log_table(
                key="val/misclassified",
                columns=["sentence", "gold", "predicted", "score"],
                data=rows,
                step=trainer.global_step,
            )
            logger.log_image(key="val/confusion_matrix", images=[fig], step=trainer.global_step)
        plt.close(fig)
