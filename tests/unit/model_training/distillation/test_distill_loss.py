"""The distillation losses: alpha mixes soft and gold terms, T softens, unlabelled copies get soft targets only;
feature matching is scaled by the teacher features' variance."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from model_training.distillation.loss import NO_LABEL, distillation_loss, feature_loss

STUDENT = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.5]])
TEACHER = torch.tensor([[1.0, 0.0], [-0.5, 2.0], [0.0, 3.0]])
LABELS = torch.tensor([0, 1, NO_LABEL])


def kl_by_hand(student: torch.Tensor, teacher: torch.Tensor, t: float) -> float:
    """Mean over rows of sum_c p_teacher * (log p_teacher - log p_student), both at temperature t."""
    total = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist(), strict=True):
        ps = [math.exp(v / t) for v in s_row]
        pt = [math.exp(v / t) for v in t_row]
        ps = [v / sum(ps) for v in ps]
        pt = [v / sum(pt) for v in pt]
        total += sum(q * (math.log(q) - math.log(p)) for p, q in zip(ps, pt, strict=True))
    return total / len(student)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_alpha_one_is_the_temperature_scaled_kl_over_every_row(temperature: float) -> None:
    parts = distillation_loss(STUDENT, TEACHER, LABELS, temperature, alpha=1.0)
    expected = kl_by_hand(STUDENT, TEACHER, temperature) * temperature**2
    assert parts["loss"].item() == pytest.approx(expected, rel=1e-5)
    assert parts["soft"].item() == pytest.approx(expected, rel=1e-5)


def test_alpha_zero_is_cross_entropy_on_the_gold_labelled_rows_only() -> None:
    parts = distillation_loss(STUDENT, TEACHER, LABELS, 2.0, alpha=0.0)
    expected = F.cross_entropy(STUDENT[:2], LABELS[:2]).item()
    assert parts["loss"].item() == pytest.approx(expected, rel=1e-6)


def test_the_mix_is_linear_in_alpha() -> None:
    soft = distillation_loss(STUDENT, TEACHER, LABELS, 2.0, alpha=1.0)["loss"].item()
    hard = distillation_loss(STUDENT, TEACHER, LABELS, 2.0, alpha=0.0)["loss"].item()
    mixed = distillation_loss(STUDENT, TEACHER, LABELS, 2.0, alpha=0.7)["loss"].item()
    assert mixed == pytest.approx(0.7 * soft + 0.3 * hard, rel=1e-6)


def test_a_student_equal_to_its_teacher_has_no_soft_loss() -> None:
    parts = distillation_loss(TEACHER, TEACHER, LABELS, 3.0, alpha=1.0)
    assert parts["soft"].item() == pytest.approx(0.0, abs=1e-6)


def test_higher_temperature_gives_softer_targets_and_a_smaller_unscaled_gap() -> None:
    low = distillation_loss(STUDENT, TEACHER, LABELS, 1.0, alpha=1.0)["soft"].item()
    high = distillation_loss(STUDENT, TEACHER, LABELS, 8.0, alpha=1.0)["soft"].item() / 8.0**2
    assert high < low


def test_a_batch_of_copies_only_has_no_gold_term() -> None:
    labels = torch.full((3,), NO_LABEL)
    parts = distillation_loss(STUDENT, TEACHER, labels, 2.0, alpha=0.5)
    assert parts["hard"].item() == 0.0
    assert parts["loss"].item() == pytest.approx(0.5 * parts["soft"].item())


def test_gradients_flow_to_the_student_only() -> None:
    student = STUDENT.clone().requires_grad_(True)
    teacher = TEACHER.clone().requires_grad_(True)
    distillation_loss(student, teacher, LABELS, 2.0, alpha=0.7)["loss"].backward()
    assert student.grad is not None
    assert student.grad.abs().sum() > 0
    # the teacher's logits are targets: any gradient they get is never used (they come from a cache, not a model)


@pytest.mark.parametrize(("temperature", "alpha", "message"), [(0.0, 0.5, "temperature"), (2.0, 1.5, "alpha")])
def test_invalid_settings_are_refused(temperature: float, alpha: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        distillation_loss(STUDENT, TEACHER, LABELS, temperature, alpha)


def test_feature_loss_is_zero_on_the_teachers_features_and_about_one_for_their_mean() -> None:
    torch.manual_seed(0)
    teacher = torch.randn(4096, 8) * torch.tensor([3.0, 1, 1, 1, 0.5, 0.5, 2, 1])
    variance = float(teacher.var(0, unbiased=False).sum())
    assert float(feature_loss(teacher.clone(), teacher, variance)) == pytest.approx(0.0)
    mean_only = teacher.mean(0, keepdim=True).expand_as(teacher)
    assert float(feature_loss(mean_only, teacher, variance)) == pytest.approx(1.0, abs=1e-4)


def test_feature_loss_refuses_mismatched_widths_and_a_non_positive_variance() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\) vs teacher's \(2, 4\)"):
        feature_loss(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)
    with pytest.raises(ValueError, match="variance must be > 0"):
        feature_loss(torch.zeros(2, 4), torch.zeros(2, 4), 0.0)
