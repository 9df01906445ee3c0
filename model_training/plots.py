"""Figures people would rather look at than read: confusion matrix, training curves."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str) -> Figure:
    """Gold labels on rows, predictions on columns, counts and row shares in each cell."""
    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    for i, row in enumerate(matrix):
        total = max(sum(row), 1)
        for j, count in enumerate(row):
            colour = "white" if count > 0.6 * max(max(r) for r in matrix) else "black"
            ax.text(j, i, f"{count}\n{count / total:.0%}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def training_curves_figure(history: Sequence[dict[str, float]], title: str) -> Figure:
    """Train/val loss and val MCC per epoch."""
    epochs = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=120)
    for key in ("train/loss_epoch", "val/loss"):
        left.plot(epochs, [row.get(key, float("nan")) for row in history], marker="o", label=key)
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    right.plot(epochs, [row.get("val/mcc", float("nan")) for row in history], marker="o", color="tab:green")
    right.set_xlabel("epoch")
    right.set_ylabel("val MCC")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
