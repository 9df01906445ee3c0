"""Specification of misclassified_rows: the table of wrong validation predictions logged to W&B."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from model_training.callbacks import misclassified_rows

REPO_ROOT = Path(__file__).resolve().parents[3]
LABELS = ["unacceptable", "acceptable"]

SENTENCES = ["right and sure", "wrong, barely", "wrong, very sure", "right, barely", "wrong, fairly sure"]
GOLD = [1, 1, 0, 0, 0]
PROBS = torch.tensor([0.95, 0.45, 0.98, 0.40, 0.80])  # probability of "acceptable" (label 1)


def test_label_names_are_the_data_configs() -> None:
    data = yaml.safe_load((REPO_ROOT / "conf" / "data" / "cola.yaml").read_text())
    assert data["labels"] == LABELS


def test_rows_name_the_labels_given() -> None:
    rows = misclassified_rows(["tie"], [0], torch.tensor([0.5]), ["no", "yes"])

    assert rows == [["tie", "no", "yes", pytest.approx(0.5)]]


def test_returns_only_wrong_predictions_most_confident_first_with_label_names() -> None:
    rows = misclassified_rows(SENTENCES, GOLD, PROBS, LABELS)

    assert rows == [
        ["wrong, very sure", "unacceptable", "acceptable", pytest.approx(0.98)],
        ["wrong, fairly sure", "unacceptable", "acceptable", pytest.approx(0.80)],
        ["wrong, barely", "acceptable", "unacceptable", pytest.approx(0.55)],
    ]


def test_score_is_the_confidence_of_the_predicted_label() -> None:
    rows = misclassified_rows(["a", "b"], [1, 0], torch.tensor([0.1, 0.7]), LABELS)

    assert {row[0]: row[3] for row in rows} == {"a": pytest.approx(0.9), "b": pytest.approx(0.7)}


def test_scores_are_sorted_descending() -> None:
    scores = [row[3] for row in misclassified_rows(SENTENCES, GOLD, PROBS, LABELS)]

    assert scores == sorted(scores, reverse=True)


def test_limit_keeps_the_most_confident_mistakes() -> None:
    rows = misclassified_rows(SENTENCES, GOLD, PROBS, LABELS, limit=2)

    assert [row[0] for row in rows] == ["wrong, very sure", "wrong, fairly sure"]


def test_probability_of_exactly_one_half_predicts_acceptable() -> None:
    rows = misclassified_rows(["tie"], [0], torch.tensor([0.5]), LABELS)

    assert rows == [["tie", "unacceptable", "acceptable", pytest.approx(0.5)]]


def test_all_correct_gives_no_rows() -> None:
    assert misclassified_rows(["a", "b"], [1, 0], torch.tensor([0.9, 0.1]), LABELS) == []


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="shorter than"):
        misclassified_rows(["a", "b"], [1], torch.tensor([0.9, 0.1]), LABELS)
