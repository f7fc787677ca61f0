"""Input perturbation for a background model (Ren et al. 2019, *Likelihood ratios for out-of-distribution
detection*): each pixel, independently with probability ``rate``, is replaced by a value drawn uniformly from
the pixels' value set.

A model trained on inputs perturbed this way learns the population-level statistics of the data (how much
background, how smooth) but little of its semantics; the log ratio of the full model's likelihood to this
background model's then cancels the first and keeps the second. The perturbation is drawn afresh for every
batch in training (like dynamic binarization), from torch's global generator, so a resumed run continues
with the same draws.
"""

from __future__ import annotations

import torch

from vaelab.errors import ConfigError

LEVELS = 256  # an 8-bit grayscale pixel's values: 0, 1/255, ..., 1


def perturb(x: torch.Tensor, rate: float, binary: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """x (B, C, H, W) in [0, 1] with each value replaced, with probability ``rate``, by a uniform draw from
    {0, 1} (``binary``) or from the 256 8-bit levels k / 255 (grayscale): a new tensor of x's shape and dtype."""
    if not 0 <= rate <= 1:
        raise ConfigError(f"perturbation rate must be in [0, 1], got {rate}")
    if rate == 0:
        return x
    replace = torch.rand(x.shape, generator=generator, device=x.device) < rate  # (B, C, H, W)
    levels = 2 if binary else LEVELS
    value = torch.randint(0, levels, x.shape, generator=generator, device=x.device).to(x.dtype) / (levels - 1)
    return torch.where(replace, value, x)
