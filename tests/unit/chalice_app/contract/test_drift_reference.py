"""The drift reference: one binning rule for the export's reference and the report's recent window."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalice_app.chalicelib.api.predictor import Prediction
from chalice_app.chalicelib.contract.drift_reference import (
    N_TOKENS_BIN_EDGES,
    SCORE_BIN_EDGES,
    bin_counts,
    reference_distribution,
)
from tests.support.labels import LABELS


def prediction(p_positive: float, n_chars: int = 10, n_tokens: int = 3, truncated: bool = False) -> Prediction:
    probabilities = {LABELS[0]: 1 - p_positive, LABELS[1]: p_positive}
    label = max(probabilities, key=probabilities.__getitem__)
    return Prediction(label, probabilities[label], probabilities, n_chars, n_tokens, truncated, 0.0)


class TestReferenceDistribution:
    def test_shares_histogram_and_lengths(self) -> None:
        predictions = [
            prediction(0.05, n_chars=5, n_tokens=1),
            prediction(0.55, n_chars=20, n_tokens=4),
            prediction(0.95, n_chars=30, n_tokens=6),
            prediction(1.0, n_chars=300, n_tokens=62, truncated=True),
        ]
        reference = reference_distribution(predictions, LABELS, "validation")
        assert reference["split"] == "validation"
        assert reference["n"] == 4
        assert reference["label_share"] == {LABELS[0]: 0.25, LABELS[1]: 0.75}
        assert reference["score_histogram"]["of"] == f"P({LABELS[1]})"
        assert reference["score_histogram"]["counts"] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 2]  # 1.0 is in the last bin
        assert reference["n_tokens"]["max"] == 62
        assert reference["n_tokens"]["mean"] == pytest.approx(18.25)
        assert reference["n_chars"]["p50"] == pytest.approx(25.0)
        assert reference["n_tokens_histogram"] == {
            "bin_edges": [0, 4, 6, 8, 10, 12, 15, 20, 30, 45, 63],
            "counts": [1, 1, 1, 0, 0, 0, 0, 0, 0, 1],
        }
        assert reference["truncated_share"] == 0.25
        assert reference["unknown_token_rate_mean"] == 0.0
        json.dumps(reference)  # plain JSON types only

    def test_label_names_are_the_given_ones(self) -> None:
        names = ("no", "yes")
        predictions = [
            Prediction("yes", 0.9, {"no": 0.1, "yes": 0.9}, 5, 2, False, 0.0),
            Prediction("no", 0.8, {"no": 0.8, "yes": 0.2}, 5, 2, False, 0.0),
        ]
        reference = reference_distribution(predictions, names, "validation")
        assert reference["label_share"] == {"no": 0.5, "yes": 0.5}
        assert reference["score_histogram"]["of"] == "P(yes)"

    def test_length_histogram_last_bin_holds_longer_inputs(self) -> None:
        """A serving length above the last edge (e.g. max_length 128) still counts every input."""
        lengths = [0, 3, 63, 126]
        reference = reference_distribution([prediction(0.5, n_tokens=n) for n in lengths], LABELS, "validation")
        assert reference["n_tokens_histogram"]["counts"] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]


class TestBinCounts:
    @given(st.lists(st.floats(min_value=-1.0, max_value=2.0, allow_nan=False), max_size=50))
    def test_equals_numpy_histogram_after_clipping_scores(self, values: list[float]) -> None:
        edges = np.asarray(SCORE_BIN_EDGES, dtype=float)
        expected, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
        assert bin_counts(values, SCORE_BIN_EDGES) == expected.tolist()

    @given(st.lists(st.integers(min_value=0, max_value=600), max_size=50))
    def test_equals_numpy_histogram_after_clipping_lengths(self, values: list[int]) -> None:
        edges = np.asarray(N_TOKENS_BIN_EDGES, dtype=float)
        expected, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
        assert bin_counts(values, N_TOKENS_BIN_EDGES) == expected.tolist()
        assert sum(bin_counts(values, N_TOKENS_BIN_EDGES)) == len(values)
