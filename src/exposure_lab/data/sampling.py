"""Training order and augmentation randomness as a function of (seed, epoch) alone: a run resumed from a
checkpoint, or run with another number of data-loader workers, draws the same crops in the same order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A torch generator seeded from (seed, epoch) by NumPy's SeedSequence (well-mixed, any ints)."""
    low, high = np.random.SeedSequence([seed, epoch]).generate_state(2)
    return torch.Generator().manual_seed(int(high) << 32 | int(low))


class SeededItems(Dataset):
    """`dataset` whose items are asked for as (index, seed): torch's RNG is seeded with `seed` while the item
    is made (random crops, flips), and put back afterwards. A plain index is passed through unseeded."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        if not isinstance(key, tuple):
            return self.dataset[key]
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


class EpochSampler(DistributedSampler):
    """Shuffled (index, item seed) pairs for `SeededItems`, drawn from (seed, epoch) only.

    Each epoch (`set_epoch`, which Lightning calls) permutes the items and gives each a seed from a generator
    seeded by (seed, epoch); rank `rank` of `num_replicas` takes every `num_replicas`-th pair of the padded
    order, as DistributedSampler does (a subclass of it, so Lightning does not wrap it for DDP).
    """

    def __init__(self, dataset: Dataset, seed: int, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        generator = epoch_generator(self.seed, self.epoch)
        order = torch.randperm(len(self.dataset), generator=generator).tolist()  # type: ignore[arg-type]
        seeds = torch.randint(0, 2**62, (len(order),), generator=generator).tolist()
        pairs = list(zip(order, seeds, strict=True))
        while len(pairs) < self.total_size:  # pad as DistributedSampler does, so every rank gets as many
            pairs += pairs[: self.total_size - len(pairs)]
        return iter(pairs[self.rank : self.total_size : self.num_replicas])
