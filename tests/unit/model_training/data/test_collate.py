"""Specification of PaddingCollator: dynamic and fixed padding, masks, labels and its refusals."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from model_training.data.collate import PaddingCollator

PAD = 1  # not 0, so the tests prove the pad id comes from the tokenizer and is not hard-coded


@pytest.fixture
def examples() -> list[dict[str, Any]]:
    return [
        {"input_ids": [101, 7, 102], "label": 1},
        {"input_ids": [101, 5, 6, 8, 9, 102], "label": 0},
        {"input_ids": [101, 102], "label": 1},
    ]


def test_dynamic_padding_pads_to_the_longest_example_with_the_pad_id(examples: list[dict[str, Any]]) -> None:
    batch = PaddingCollator(pad_token_id=PAD, padding="dynamic", max_length=64)(examples)

    assert batch["input_ids"].tolist() == [
        [101, 7, 102, PAD, PAD, PAD],
        [101, 5, 6, 8, 9, 102],
        [101, 102, PAD, PAD, PAD, PAD],
    ]


def test_attention_mask_is_one_on_tokens_and_zero_on_padding(examples: list[dict[str, Any]]) -> None:
    batch = PaddingCollator(pad_token_id=PAD)(examples)

    assert batch["attention_mask"].tolist() == [
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 1, 1],
        [1, 1, 0, 0, 0, 0],
    ]


def test_mask_marks_real_tokens_even_when_a_token_equals_the_pad_id() -> None:
    batch = PaddingCollator(pad_token_id=PAD)([{"input_ids": [101, PAD, 102]}, {"input_ids": [101]}])

    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_labels_become_a_long_tensor_in_batch_order(examples: list[dict[str, Any]]) -> None:
    batch = PaddingCollator(pad_token_id=PAD)(examples)

    assert batch["labels"].tolist() == [1, 0, 1]
    assert batch["labels"].dtype == torch.long


def test_all_tensors_are_long(examples: list[dict[str, Any]]) -> None:
    batch = PaddingCollator(pad_token_id=PAD)(examples)

    assert {name: tensor.dtype for name, tensor in batch.items()} == {
        "input_ids": torch.long,
        "attention_mask": torch.long,
        "labels": torch.long,
    }


def test_examples_without_labels_give_no_labels_tensor() -> None:
    batch = PaddingCollator(pad_token_id=PAD)([{"input_ids": [101, 102]}, {"input_ids": [101, 7, 102]}])

    assert set(batch) == {"input_ids", "attention_mask"}


def test_fixed_padding_pads_every_batch_to_max_length(examples: list[dict[str, Any]]) -> None:
    batch = PaddingCollator(pad_token_id=PAD, padding="fixed", max_length=8)(examples)

    assert batch["input_ids"].shape == (3, 8)
    assert batch["attention_mask"].shape == (3, 8)
    assert batch["input_ids"][2].tolist() == [101, 102] + [PAD] * 6
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 6, 2]


def test_an_example_of_exactly_max_length_fits(examples: list[dict[str, Any]]) -> None:
    batch = PaddingCollator(pad_token_id=PAD, padding="dynamic", max_length=6)(examples)

    assert batch["input_ids"].shape == (3, 6)


@pytest.mark.parametrize("padding", ["dynamic", "fixed"])
def test_an_example_longer_than_max_length_raises(examples: list[dict[str, Any]], padding: str) -> None:
    collate = PaddingCollator(pad_token_id=PAD, padding=padding, max_length=5)

    with pytest.raises(ValueError, match="example of 6 tokens exceeds max_length 5"):
        collate(examples)


def test_empty_batch_raises() -> None:
    with pytest.raises(ValueError, match="cannot collate an empty batch"):
        PaddingCollator(pad_token_id=PAD)([])


@pytest.mark.parametrize("padding", ["bogus", "longest", "max_length", ""])
def test_unknown_padding_mode_is_refused_at_construction(padding: str) -> None:
    with pytest.raises(ValueError, match="padding must be 'dynamic' or 'fixed'"):
        PaddingCollator(pad_token_id=PAD, padding=padding)
