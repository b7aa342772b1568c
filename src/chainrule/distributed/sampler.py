"""DistributedSampler: each rank iterates over its own disjoint shard of a dataset."""
from __future__ import annotations

from typing import Any, Iterator, Optional, TYPE_CHECKING

import math

import numpy as np

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """Indices of ``dataset`` for one rank, as PyTorch's ``DistributedSampler``.

    Every epoch the indices ``0..len(dataset)-1`` are (with ``shuffle``) permuted by a
    generator seeded with ``seed + epoch`` -- the same on every rank, so call
    :meth:`set_epoch` at the start of each epoch -- then either padded by repeating the
    first indices up to a multiple of ``num_replicas`` or, with ``drop_last``, cut to one;
    rank ``r`` takes positions ``r, r + num_replicas, ...``. Every rank yields
    ``len(self)`` indices. ``num_replicas``/``rank`` default to the process group's.
    """

    def __init__(self, dataset: Any, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        from . import _comm
        if num_replicas is None:
            num_replicas = _comm.get_world_size()
        if rank is None:
            rank = _comm.get_rank()
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got "
                             f"{num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in "
                             f"the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch: the shuffle order of every rank depends on seed + epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            idx = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            idx = np.arange(n)
        if self.total_size > n:  # pad by repeating from the start (as often as needed)
            idx = np.resize(idx, self.total_size)
        else:
            idx = idx[:self.total_size]
        return iter(idx[self.rank:self.total_size:self.num_replicas].tolist())
