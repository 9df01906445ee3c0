"""training.batch_size is the global batch: under DDP each process loads its share, so a recipe's batch (and the
learning rate chosen for it) means the same on 1 process and on N."""

from __future__ import annotations

import pytest

from model_training.data.datamodule import per_process_batch_size


@pytest.mark.parametrize(("batch_size", "world_size", "share"), [(32, 1, 32), (32, 2, 16), (16, 2, 8), (32, 8, 4)])
def test_each_process_loads_its_share_of_the_global_batch(batch_size: int, world_size: int, share: int) -> None:
    assert per_process_batch_size(batch_size, world_size) == share


def test_a_batch_that_does_not_split_evenly_says_what_to_change() -> None:
    with pytest.raises(
        ValueError, match=r"training.batch_size=30 .* 4 processes: set training.batch_size to a multiple of 4"
    ):
        per_process_batch_size(30, 4)


def test_a_world_without_processes_is_refused() -> None:
    with pytest.raises(ValueError, match="world_size must be >= 1"):
        per_process_batch_size(32, 0)
