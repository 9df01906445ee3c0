"""Under DDP, per-example validation outputs come back from the ranks in shards; model_training.distributed puts
them back in dataset order, following torch's DistributedSampler (what Lightning shards evaluation sets with)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DistributedSampler, TensorDataset

from model_training.distributed import interleave_shards, is_rank_zero


def shards_of(n: int, world_size: int) -> torch.Tensor:
    """Each rank's indices as the real sampler deals them (shuffle off, as Lightning's evaluation loaders are)."""
    dataset = TensorDataset(torch.arange(n))
    return torch.tensor(
        [list(DistributedSampler(dataset, num_replicas=world_size, rank=r, shuffle=False)) for r in range(world_size)]
    )


@pytest.mark.parametrize(("n", "world_size"), [(32, 2), (527, 2), (10, 4), (7, 3), (5, 1)])
def test_gathered_shards_come_back_in_dataset_order(n: int, world_size: int) -> None:
    gathered = shards_of(n, world_size)  # the value of each example is its index

    assert interleave_shards(gathered, n).tolist() == list(range(n))


def test_the_samplers_padding_is_cut_off() -> None:
    gathered = shards_of(527, 2)  # 528 dealt: the sampler repeats example 0 to even the ranks out

    assert gathered.numel() == 528
    assert len(interleave_shards(gathered, 527)) == 527


def test_values_that_are_not_per_rank_or_too_few_are_refused() -> None:
    with pytest.raises(ValueError, match="world_size, per_rank"):
        interleave_shards(torch.arange(6), 6)
    with pytest.raises(ValueError, match="does not fit"):
        interleave_shards(torch.zeros(2, 3), 7)


def test_a_process_without_a_rank_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning.pytorch.utilities import rank_zero_only

    assert is_rank_zero()  # pytest is the user's process
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert not is_rank_zero()
