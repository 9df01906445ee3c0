"""torch → ONNX with dynamic batch and sequence axes."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedModel


class LogitsOnly(torch.nn.Module):
    """(input_ids, attention_mask) → logits: the graph the runtime feeds."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_onnx(model: PreTrainedModel, path: Path, opset: int = 17) -> None:
    """Write `model` as ONNX with inputs input_ids, attention_mask (int64, [batch, sequence]) and output logits."""
    wrapper = LogitsOnly(model).eval()
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            example,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter gives a compact graph that quantizes well
        )
