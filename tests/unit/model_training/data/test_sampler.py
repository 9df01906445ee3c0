"""Length-grouped batches: every example once per epoch, little padding, a fresh reproducible order per epoch."""

from __future__ import annotations

import random

import pytest

from model_training.data.sampler import LengthGroupedBatchSampler

_RNG = random.Random(7)
LENGTHS = [_RNG.randint(3, 60) for _ in range(1000)]


def padded_tokens(batches: list[list[int]]) -> int:
    return sum(max(LENGTHS[i] for i in b) * len(b) for b in batches)


def test_each_example_appears_exactly_once_per_epoch() -> None:
    sampler = LengthGroupedBatchSampler(LENGTHS, batch_size=32, group_size=5)
    for _ in range(3):
        seen = [i for batch in sampler for i in batch]
        assert sorted(seen) == list(range(len(LENGTHS)))


def test_batches_have_the_batch_size_except_at_group_ends() -> None:
    sampler = LengthGroupedBatchSampler(LENGTHS, batch_size=32, group_size=5)
    sizes = [len(b) for b in sampler]
    assert len(sizes) >= len(sampler)
    assert sum(size == 32 for size in sizes) >= len(sizes) - (len(LENGTHS) // (32 * 5) + 1)
    assert all(1 <= size <= 32 for size in sizes)


def test_grouping_pads_far_less_than_random_batches() -> None:
    order = list(range(len(LENGTHS)))
    random.Random(0).shuffle(order)
    random_batches = [order[i : i + 32] for i in range(0, len(order), 32)]
    grouped = list(LengthGroupedBatchSampler(LENGTHS, batch_size=32, group_size=10))
    assert padded_tokens(grouped) < 0.8 * padded_tokens(random_batches)


def test_order_changes_every_epoch_and_is_reproducible_from_the_seed() -> None:
    first, second = LengthGroupedBatchSampler(LENGTHS, 32, seed=3), LengthGroupedBatchSampler(LENGTHS, 32, seed=3)
    epoch0, epoch1 = list(first), list(first)
    assert epoch0 != epoch1
    assert list(second) == epoch0
    assert list(second) == epoch1


def test_batch_order_is_shuffled_not_sorted_by_length() -> None:
    widths = [max(LENGTHS[i] for i in b) for b in LengthGroupedBatchSampler(LENGTHS, 32, group_size=50)]
    assert widths != sorted(widths)
    assert widths != sorted(widths, reverse=True)


@pytest.mark.parametrize(("batch_size", "group_size"), [(0, 5), (8, 0)])
def test_invalid_sizes_are_refused(batch_size: int, group_size: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        LengthGroupedBatchSampler(LENGTHS, batch_size, group_size)
