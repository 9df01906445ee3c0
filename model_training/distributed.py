"""What multi-process (DDP) training needs beyond Lightning: which process may write, and evaluation outputs put
back into dataset order.

Under `trainer=ddp_cpu` or `trainer=ddp` Lightning's subprocess launcher re-runs the entry point once per extra
process, with LOCAL_RANK set; every process trains, only rank 0 writes the run's outputs.
"""

from __future__ import annotations

import torch
from lightning.pytorch.utilities import rank_zero_only


def is_rank_zero() -> bool:
    """True in the process that writes outputs: the one started by the user (Lightning reads the rank from RANK or
    LOCAL_RANK when it is imported, so this holds before the trainer exists)."""
    return int(getattr(rank_zero_only, "rank", 0)) == 0


def interleave_shards(gathered: torch.Tensor, n: int) -> torch.Tensor:
    """Per-example values gathered from all processes, shape (world_size, per_rank), back in dataset order.

    Lightning shards an evaluation set with torch's DistributedSampler (shuffle off): rank r gets indices r, r + W,
    r + 2W, ... of the set padded to a multiple of W by repeating its first examples. So position i of rank r is
    example i * W + r; the padding lands at the end and `n` (the set's size) cuts it off.
    """
    if gathered.dim() != 2:
        raise ValueError(
            f"expected values gathered per rank, shape (world_size, per_rank), got {tuple(gathered.shape)}"
        )
    world_size, per_rank = gathered.shape
    if not 0 <= n <= world_size * per_rank:
        raise ValueError(f"n={n} does not fit {world_size} ranks x {per_rank} values")
    return gathered.transpose(0, 1).reshape(-1)[:n]
