"""The output layer of a sequence classifier, whatever its head: the input of that layer is what the head reads."""

from __future__ import annotations

import torch


def output_layer(model: torch.nn.Module) -> torch.nn.Linear:
    """The model's last linear layer with one output per label (BERT: `classifier`; MPNet, RoBERTa:
    `classifier.out_proj`, after the head's dense layer and tanh)."""
    num_labels = getattr(model, "num_labels", None)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == num_labels]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no linear output layer with {num_labels} outputs")
    return layers[-1]
