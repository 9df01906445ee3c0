"""CoLA metrics with torchmetrics: MCC is the task's metric; accuracy, F1, precision, recall beside it."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryConfusionMatrix,
    BinaryF1Score,
    BinaryMatthewsCorrCoef,
    BinaryPrecision,
    BinaryRecall,
)


class MatthewsCorrCoef(BinaryMatthewsCorrCoef):
    """Binary MCC that is 0.0 when a row or column of the confusion matrix is empty.

    That is the convention of GLUE/sklearn (a constant predictor scores 0). torchmetrics 1.9 instead returns an
    eps-based value there (0.20 for "always acceptable" on 8/24 labels), which would flatter degenerate models.
    """

    def compute(self) -> torch.Tensor:
        (tn, fp), (fn, tp) = self.confmat.tolist()
        if 0 in (tp + fp, tp + fn, tn + fp, tn + fn):
            return torch.tensor(0.0)
        return super().compute()


def classification_metrics(prefix: str) -> MetricCollection:
    """Binary metrics over the positive class 'acceptable' (label 1), keys like `val/mcc`."""
    return MetricCollection(
        {
            "mcc": MatthewsCorrCoef(),
            "accuracy": BinaryAccuracy(),
            "f1": BinaryF1Score(),
            "precision": BinaryPrecision(),
            "recall": BinaryRecall(),
        },
        prefix=f"{prefix}/",
    )


def confusion_matrix() -> BinaryConfusionMatrix:
    """Rows are gold labels, columns predictions (0 unacceptable, 1 acceptable)."""
    return BinaryConfusionMatrix()
