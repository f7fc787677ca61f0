"""Reproducible train/valid/test splits: a seeded permutation cut into pieces of given sizes."""

from __future__ import annotations

import torch

from vaelab.errors import DataError


def fraction_split_sizes(n: int, valid: float = 0.1, test: float = 0.1, *, what: str = "data set") -> tuple[int, int, int]:
    """(train, valid, test) sizes for ``n`` examples: about 80/10/10, with at least one example in each."""
    if n < 3:
        raise DataError(f"{what}: only {n} example(s) (expected at least 3, one each for train, valid and test)")
    n_valid = max(1, round(n * valid))
    n_test = max(1, round(n * test))
    return n - n_valid - n_test, n_valid, n_test


def seeded_split(n: int, sizes: tuple[int, int, int], seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Index tensors of the train, valid and test pieces of torch.randperm(n) drawn from a generator seeded ``seed``."""
    if sum(sizes) != n:
        raise ValueError(f"split sizes {sizes} do not add up to {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    a, b, _ = sizes
    return perm[:a], perm[a : a + b], perm[a + b :]


def pick(n_total: int, n: int, seed: int = 0) -> torch.Tensor:
    """``min(n, n_total)`` distinct indices in 0..n_total-1, drawn with ``seed`` (splits may be sorted by class)."""
    from vaelab.errors import ConfigError

    if n < 1:
        raise ConfigError(f"need at least 1 example, got {n}")
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]
