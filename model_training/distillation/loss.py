"""Knowledge-distillation losses: softened teacher targets mixed with the gold labels (Hinton et al., 2015), and
feature matching against the teacher's classifier-head features (FitNets-style, on the penultimate layer)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NO_LABEL = -1
"""Label of a transfer-set copy that has only the teacher's soft target."""


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    alpha: float,
) -> dict[str, torch.Tensor]:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, gold).

    The KL term averages over every example; the cross-entropy over the examples with a gold label (label != -1),
    and is 0 for a batch without any. T^2 keeps the soft term's gradient scale independent of T.
    Returns the total and both parts (for logging).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    soft_targets = F.softmax(teacher_logits.float() / temperature, dim=-1)
    log_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    soft = F.kl_div(log_student, soft_targets, reduction="batchmean") * temperature**2
    labelled = labels != NO_LABEL
    hard = (
        F.cross_entropy(student_logits[labelled].float(), labels[labelled])
        if bool(labelled.any())
        else student_logits.new_zeros((), dtype=torch.float32)
    )
    return {"loss": alpha * soft + (1.0 - alpha) * hard, "soft": soft, "hard": hard}


def feature_loss(projected: torch.Tensor, teacher_features: torch.Tensor, variance: float) -> torch.Tensor:
    """Mean squared distance between the student's projected features and the teacher's, over the teacher features'
    total variance: about 1 for a student that predicts only their mean, whatever the teacher's width or scale."""
    if variance <= 0:
        raise ValueError(f"teacher feature variance must be > 0, got {variance}")
    if projected.shape != teacher_features.shape:
        raise ValueError(f"student features {tuple(projected.shape)} vs teacher's {tuple(teacher_features.shape)}")
    return ((projected.float() - teacher_features.float()) ** 2).sum(-1).mean() / variance
