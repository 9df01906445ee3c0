"""The drift reference: what the served model's inputs and outputs look like on a reference split.

export/ computes it with the runtime predictor and stores it as the manifest's `reference` section; the drift
report (monitoring/drift/) bins recent predictions with the same `bin_counts` on the edges stored here, so the two
sides are comparable by construction. The score histogram bins the probability of the positive class, the
manifest's labels[1] (the prediction log line's `p_acceptable`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from ..api.predictor import Prediction

SCORE_BIN_EDGES: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
"""Ten equal bins of a probability."""

N_TOKENS_BIN_EDGES: tuple[int, ...] = (0, 4, 6, 8, 10, 12, 15, 20, 30, 45, 63)
"""Input length bins (word pieces): fine where CoLA sentences lie, coarse above; the last bin is open-ended."""


class Summary(TypedDict):
    mean: float
    p50: float
    p90: float
    p99: float
    max: float


class ScoreHistogram(TypedDict):
    of: str
    bin_edges: list[float]
    counts: list[int]


class LengthHistogram(TypedDict):
    bin_edges: list[int]
    counts: list[int]


class DriftReference(TypedDict):
    """The manifest's `reference` section."""

    split: str
    n: int
    label_share: dict[str, float]
    score_histogram: ScoreHistogram
    n_chars: Summary
    n_tokens: Summary
    n_tokens_histogram: LengthHistogram
    unknown_token_rate_mean: float
    truncated_share: float


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts of `values` on bins [edges[i], edges[i+1]); the last bin is closed, and values beyond the outer
    edges count in the first or last bin (numpy.histogram's rule after clipping, so nothing is left out)."""
    counts = [0] * (len(edges) - 1)
    last = len(counts) - 1
    for value in values:
        counts[min(max(bisect_right(edges, value) - 1, 0), last)] += 1
    return counts


def reference_distribution(predictions: Sequence[Prediction], labels: Sequence[str], split: str) -> DriftReference:
    """The reference of `predictions` (the runtime predictor's answers on `split`)."""
    import numpy as np  # the Makefile reads manifests with any Python: numpy only where statistics are computed

    positive = labels[1]
    scores = [p.probabilities[positive] for p in predictions]
    tokens = [p.n_tokens for p in predictions]

    def summary(values: Sequence[float]) -> Summary:
        array = np.asarray(values, dtype=float)
        return {
            "mean": round(float(array.mean()), 4),
            "p50": float(np.percentile(array, 50)),
            "p90": float(np.percentile(array, 90)),
            "p99": float(np.percentile(array, 99)),
            "max": float(array.max()),
        }

    return {
        "split": split,
        "n": len(predictions),
        "label_share": {
            name: round(sum(p.label == name for p in predictions) / len(predictions), 4) for name in labels
        },
        "score_histogram": {
            "of": f"P({positive})",
            "bin_edges": list(SCORE_BIN_EDGES),
            "counts": bin_counts(scores, SCORE_BIN_EDGES),
        },
        "n_chars": summary([p.n_chars for p in predictions]),
        "n_tokens": summary(tokens),
        "n_tokens_histogram": {
            "bin_edges": list(N_TOKENS_BIN_EDGES),
            "counts": bin_counts(tokens, N_TOKENS_BIN_EDGES),
        },
        "unknown_token_rate_mean": round(sum(p.unknown_token_rate for p in predictions) / len(predictions), 6),
        "truncated_share": round(sum(p.truncated for p in predictions) / len(predictions), 6),
    }
