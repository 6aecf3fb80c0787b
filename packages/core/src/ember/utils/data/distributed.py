"""``DistributedSampler``: each rank of a data-parallel job reads its own share of a dataset."""

from __future__ import annotations

import math

import numpy as np

from ember import distributed as dist
from ember.utils.data.sampler import Sampler


class DistributedSampler(Sampler):
    """Splits the indices of ``dataset`` among ``num_replicas`` ranks (default: the process
    group's world size), rank ``rank`` taking every ``num_replicas``-th of them.

    Every rank sees the same number of samples: without ``drop_last`` the index list is padded
    by repeating its start, so it divides evenly; with it the tail is dropped. ``shuffle``
    permutes the indices with ``seed + epoch`` (the same permutation on every rank): call
    ``set_epoch`` before each epoch for a new order. The permutation comes from numpy, so its
    order differs from PyTorch's for the same seed.

    Example:
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        size = len(dataset)
        if drop_last and size % num_replicas:
            self.num_samples = math.ceil((size - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(size / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        size = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(size)
        else:
            indices = np.arange(size)
        if self.total_size > size:
            indices = np.resize(indices, self.total_size)  # repeats from the start
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch the next iteration's shuffle is seeded with."""
        self.epoch = epoch
