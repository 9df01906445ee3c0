"""The report's plots as PNG bytes: reference (blue) beside recent (orange) for scores, labels and input lengths.

Figures are built with matplotlib's object API (no pyplot, no display, no global state).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from monitoring.drift.signals import Distributions, Histogram

REFERENCE_COLOR = "#1f77b4"
RECENT_COLOR = "#ff7f0e"
SIZE_INCHES = (6.4, 3.2)
DPI = 100


def _grouped_bars(
    title: str, categories: Sequence[str], reference: Sequence[float] | None, recent: Sequence[float], xlabel: str
) -> bytes:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(categories))
    width = 0.4 if reference is not None else 0.8
    if reference is not None:
        axes.bar(positions - width / 2, reference, width, label="reference (dev set)", color=REFERENCE_COLOR)
        axes.bar(positions + width / 2, recent, width, label="recent window", color=RECENT_COLOR)
    else:
        axes.bar(positions, recent, width, label="recent window", color=RECENT_COLOR)
    axes.set_xticks(positions, categories, rotation=45 if len(categories) > 4 else 0, fontsize=8)
    axes.set_ylabel("share")
    axes.set_xlabel(xlabel)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _bin_labels(histogram: Histogram, open_ended: bool) -> list[str]:
    edges = histogram.edges
    labels = [f"{_fmt(lo)}-{_fmt(hi)}" for lo, hi in itertools.pairwise(edges)]
    if open_ended:
        labels[-1] = f"{_fmt(edges[-2])}+"
    return labels


def _fmt(value: float) -> str:
    return f"{value:g}"


def score_plot(distributions: Distributions) -> bytes:
    reference, recent = distributions.score_reference, distributions.score_recent
    return _grouped_bars(
        "P(acceptable): reference vs recent", _bin_labels(reference, False), reference.shares(), recent.shares(), "bin"
    )


def label_plot(distributions: Distributions) -> bytes:
    names = list(distributions.label_share_reference)
    return _grouped_bars(
        "Predicted label shares",
        names,
        [distributions.label_share_reference[n] for n in names],
        [distributions.label_share_recent[n] for n in names],
        "label",
    )


def length_plot(distributions: Distributions) -> bytes:
    reference, recent = distributions.length_reference, distributions.length_recent
    return _grouped_bars(
        "Input length (word pieces)" + ("" if reference else ": recent only, the reference has no histogram"),
        _bin_labels(recent, reference is not None),
        reference.shares() if reference else None,
        recent.shares(),
        "word pieces",
    )


def all_plots(distributions: Distributions) -> dict[str, bytes]:
    """Every plot of the report, by a name the HTML uses as its caption key."""
    return {
        "scores": score_plot(distributions),
        "labels": label_plot(distributions),
        "lengths": length_plot(distributions),
    }
