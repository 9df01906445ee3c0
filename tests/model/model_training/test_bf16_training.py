"""trainer=cpu_bf16 (what `make teacher` picks on an AMX CPU) trains for real: bf16 autocast, gradients clipped
with the fused optimizer, and the run still learns the learning test's rule.

Lightning refuses gradient clipping under its autocast plugin when the optimizer is fused (a guard for fp16's scaled
gradients); the module clips bf16's unscaled gradients itself. The clip value here is small so every step clips.
On a CPU without AMX bf16 is emulated: slower, but the same arithmetic, so the test runs everywhere.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
import torch

from model_training.train import train
from tests.support import rule_data

TRAIN_SENTENCES = 64
HELD_OUT_SENTENCES = 48
MIN_MCC = 0.8  # as the fp32 learning test (tests/model/model_training/test_learning.py)
CLIP = 0.05


def grad_norm(module: L.LightningModule) -> float:
    """The global L2 norm of the module's gradients."""
    norms = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms)))


class GradientProbe(L.Callback):
    """Gradient norms before clipping (on_before_optimizer_step) and after the step, and the precision in use."""

    def __init__(self) -> None:
        self.before: list[float] = []
        self.after: list[float] = []
        self.precision: str | None = None
        self.autocast: list[bool] = []

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any) -> None:
        self.before.append(grad_norm(pl_module))
        self.precision = str(trainer.precision)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.after.append(grad_norm(pl_module))  # zero_grad runs at the start of the next step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        with trainer.precision_plugin.forward_context():
            probe = torch.ones(2, 2) @ torch.ones(2, 2)
        self.autocast.append(probe.dtype == torch.bfloat16)


@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], GradientProbe]:
    base = tmp_path_factory.mktemp("bf16")
    train_rows, held_out = rule_data.rule_split(TRAIN_SENTENCES, HELD_OUT_SENTENCES)
    cfg = rule_data.rule_run_config(
        base, train_rows, held_out, "trainer=cpu_bf16", f"training.gradient_clip_val={CLIP}"
    )
    probe = GradientProbe()
    return train(cfg, extra_callbacks=[probe]), probe


def test_the_run_trains_under_bf16_autocast(bf16_run: tuple[dict[str, Any], GradientProbe]) -> None:
    _, probe = bf16_run
    assert probe.precision == "bf16-mixed"
    assert probe.autocast
    assert all(probe.autocast)


def test_every_step_is_clipped_to_the_configured_norm(bf16_run: tuple[dict[str, Any], GradientProbe]) -> None:
    _, probe = bf16_run
    assert len(probe.before) == len(probe.after) == 2 * (2 * TRAIN_SENTENCES // 16)
    assert all(norm > CLIP for norm in probe.before)  # the clip value bites on every step...
    assert max(probe.after) <= CLIP * (1 + 1e-3)  # ...and the optimizer stepped with clipped gradients


def test_the_bf16_run_learns_the_rule(bf16_run: tuple[dict[str, Any], GradientProbe]) -> None:
    result, _ = bf16_run
    assert result["best"]["val_mcc"] >= MIN_MCC, result["history"]
