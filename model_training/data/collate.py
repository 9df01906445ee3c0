"""Batch collation: pad each batch to its longest sentence (dynamic) or to a fixed length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class PaddingCollator:
    """Turn a list of tokenized examples into tensors, padding with the tokenizer's pad id.

    Dynamic padding keeps CoLA batches at ~10-20 tokens instead of a fixed 128, which is most of the compute.
    """

    def __init__(self, pad_token_id: int, padding: str = "dynamic", max_length: int = 64) -> None:
        if padding not in ("dynamic", "fixed"):
            raise ValueError(f"padding must be 'dynamic' or 'fixed', got {padding!r}")
        self.pad_token_id = pad_token_id
        self.padding = padding
        self.max_length = max_length

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not examples:
            raise ValueError("cannot collate an empty batch")
        lengths = [len(example["input_ids"]) for example in examples]
        if max(lengths) > self.max_length:
            raise ValueError(f"example of {max(lengths)} tokens exceeds max_length {self.max_length}")
        width = self.max_length if self.padding == "fixed" else max(lengths)
        input_ids = torch.full((len(examples), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
        for row, example in enumerate(examples):
            ids = torch.as_tensor(example["input_ids"], dtype=torch.long)
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "label" in examples[0]:
            batch["labels"] = torch.as_tensor([example["label"] for example in examples], dtype=torch.long)
        if "teacher_logits" in examples[0]:  # distillation: soft targets; label -1 marks a copy without gold label
            batch["teacher_logits"] = torch.as_tensor([example["teacher_logits"] for example in examples])
        if "teacher_features" in examples[0]:  # feature distillation: the teacher's classifier-head features
            batch["teacher_features"] = torch.as_tensor(
                [example["teacher_features"] for example in examples], dtype=torch.float32
            )
        return batch
