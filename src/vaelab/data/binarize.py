"""Turn grayscale splits into binary ones: none, fixed threshold, or dynamic (fresh Bernoulli draws in training)."""

from __future__ import annotations

import torch

from vaelab.errors import ConfigError

BINARIZE_MODES = ("none", "threshold", "dynamic")
EVAL_BINARIZATION_SEED = 0  # valid/test of dynamic binarization are drawn once from this seed


def check_binarize(mode: str | None) -> str:
    """The binarization mode ``mode`` normalised ('none' for None); ConfigError when unknown."""
    if mode is None:
        return "none"
    norm = str(mode).strip().lower()
    if norm not in BINARIZE_MODES:
        raise ConfigError(f"unknown binarization {mode!r} (expected one of {', '.join(BINARIZE_MODES)})")
    return norm


def binarize_splits(
    train: torch.Tensor, valid: torch.Tensor, test: torch.Tensor, mode: str | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str, bool]:
    """(train, valid, test, kind, dynamic_binarization) after binarizing with ``mode``.

    'none' keeps the values (kind 'binary' only if they are all 0/1); 'threshold' maps x > 0.5 to 1;
    'dynamic' keeps train grayscale for per-batch Bernoulli sampling and binarizes valid, then test,
    once with torch.bernoulli from a generator seeded 0, so evaluation numbers are reproducible.
    """
    mode = check_binarize(mode)
    if mode == "none":
        kind = "binary" if all(is_binary(t) for t in (train, valid, test)) else "continuous"
        return train, valid, test, kind, False
    if mode == "threshold":
        return tuple((t > 0.5).to(torch.float32) for t in (train, valid, test)) + ("binary", False)  # type: ignore[return-value]
    gen = torch.Generator().manual_seed(EVAL_BINARIZATION_SEED)
    valid_b = torch.bernoulli(valid.to(torch.float32), generator=gen)
    test_b = torch.bernoulli(test.to(torch.float32), generator=gen)
    return train, valid_b, test_b, "binary", True


def is_binary(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is exactly 0 or 1."""
    return bool(((x == 0) | (x == 1)).all())
