"""Length-grouped batches: shuffled, but each batch holds sentences of similar length, so dynamic padding pads
little. Random batches of CoLA pad to about twice the mean length; grouped ones barely pad at all."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


class LengthGroupedBatchSampler:
    """Yield index batches: shuffle, cut into mega-batches of `batch_size * group_size`, sort each by length,
    cut into batches, shuffle the batch order. A new order every epoch (seeded by `seed` + epoch)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, group_size: int = 50, seed: int = 0) -> None:
        if batch_size < 1 or group_size < 1:
            raise ValueError("batch_size and group_size must be >= 1")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.group_size = group_size
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        self.epoch += 1
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        mega = self.batch_size * self.group_size
        batches: list[list[int]] = []
        for start in range(0, len(order), mega):
            group = sorted(order[start : start + mega], key=lambda i: self.lengths[i], reverse=True)
            batches.extend(group[i : i + self.batch_size] for i in range(0, len(group), self.batch_size))
        rng.shuffle(batches)
        return iter(batches)
