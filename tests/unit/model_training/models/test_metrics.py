"""Specification of the CoLA metrics: the key names, and MCC following the GLUE/sklearn conventions."""

from __future__ import annotations

import math

import pytest
import torch

from model_training.models.metrics import MatthewsCorrCoef, classification_metrics, confusion_matrix


def mcc(preds: list[int], target: list[int]) -> float:
    metric = MatthewsCorrCoef()
    metric.update(torch.tensor(preds), torch.tensor(target))
    return float(metric.compute())


def test_classification_metrics_keys_carry_the_prefix() -> None:
    metrics = classification_metrics("val")
    result = metrics(torch.tensor([0.9, 0.2, 0.7, 0.4]), torch.tensor([1, 0, 0, 1]))

    assert set(result) == {"val/mcc", "val/accuracy", "val/f1", "val/precision", "val/recall"}


def test_classification_metrics_values_on_a_small_example() -> None:
    # probabilities threshold at 0.5: predictions 1, 0, 1, 0 against gold 1, 0, 0, 1 -> tp=1 fp=1 fn=1 tn=1
    result = classification_metrics("test")(torch.tensor([0.9, 0.2, 0.7, 0.4]), torch.tensor([1, 0, 0, 1]))

    assert float(result["test/accuracy"]) == pytest.approx(0.5)
    assert float(result["test/precision"]) == pytest.approx(0.5)
    assert float(result["test/recall"]) == pytest.approx(0.5)
    assert float(result["test/f1"]) == pytest.approx(0.5)
    assert float(result["test/mcc"]) == pytest.approx(0.0, abs=1e-6)


def test_mcc_equals_the_textbook_formula_on_a_mixed_example() -> None:
    target = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    preds = [1, 1, 1, 1, 0, 0, 1, 0, 0, 0]
    tp = sum(p == 1 and t == 1 for p, t in zip(preds, target, strict=True))  # 4
    tn = sum(p == 0 and t == 0 for p, t in zip(preds, target, strict=True))  # 3
    fp = sum(p == 1 and t == 0 for p, t in zip(preds, target, strict=True))  # 1
    fn = sum(p == 0 and t == 1 for p, t in zip(preds, target, strict=True))  # 2
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))

    assert (tp, tn, fp, fn) == (4, 3, 1, 2)
    assert mcc(preds, target) == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(10 / math.sqrt(5 * 6 * 4 * 5))


@pytest.mark.parametrize("constant", [0, 1], ids=["always-unacceptable", "always-acceptable"])
def test_mcc_is_exactly_zero_for_a_constant_predictor(constant: int) -> None:
    """GLUE/sklearn convention: a constant predictor scores 0 (torchmetrics alone gives ~0.2 here)."""
    target = [1] * 8 + [0] * 16
    preds = [constant] * len(target)

    assert mcc(preds, target) == 0.0


def test_mcc_is_zero_when_gold_has_a_single_class() -> None:
    assert mcc([1, 0, 1, 0], [1, 1, 1, 1]) == 0.0


def test_mcc_is_one_for_perfect_predictions() -> None:
    target = [1, 0, 1, 1, 0, 0, 1]
    assert mcc(target, target) == pytest.approx(1.0)


def test_mcc_is_minus_one_for_inverted_predictions() -> None:
    target = [1, 0, 1, 1, 0, 0, 1]
    assert mcc([1 - t for t in target], target) == pytest.approx(-1.0)


def test_mcc_accumulates_over_batches_like_one_big_batch() -> None:
    target = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    preds = [1, 1, 1, 1, 0, 0, 1, 0, 0, 0]
    metric = MatthewsCorrCoef()
    metric.update(torch.tensor(preds[:3]), torch.tensor(target[:3]))
    metric.update(torch.tensor(preds[3:]), torch.tensor(target[3:]))

    assert float(metric.compute()) == pytest.approx(mcc(preds, target))


def test_collection_mcc_is_zero_for_a_constant_predictor_too() -> None:
    probs = torch.full((24,), 0.9)
    target = torch.tensor([1] * 8 + [0] * 16)

    assert float(classification_metrics("val")(probs, target)["val/mcc"]) == 0.0


def test_confusion_matrix_rows_are_gold_and_columns_predictions() -> None:
    matrix = confusion_matrix()(torch.tensor([1, 1, 0, 0, 1]), torch.tensor([1, 0, 0, 1, 1]))

    # [[tn, fp], [fn, tp]]
    assert matrix.tolist() == [[1, 1], [1, 2]]
