"""The output layer of a classifier: the last linear layer with one output per label, whatever the head."""

from __future__ import annotations

import pytest
import torch

from model_training.models.output_layer import output_layer


def test_the_output_layer_is_the_last_linear_with_one_output_per_label() -> None:
    from transformers import BertConfig, BertForSequenceClassification, MPNetConfig, MPNetForSequenceClassification

    small = {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8}
    bert = BertForSequenceClassification(BertConfig(vocab_size=20, num_labels=2, **small))
    assert output_layer(bert) is bert.classifier
    mpnet = MPNetForSequenceClassification(MPNetConfig(vocab_size=20, num_labels=2, **small))
    assert output_layer(mpnet) is mpnet.classifier.out_proj  # after the head's dense + tanh
    bert.classifier = torch.nn.Identity()
    with pytest.raises(ValueError, match="no linear output layer"):
        output_layer(bert)
