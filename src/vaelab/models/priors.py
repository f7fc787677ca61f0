"""Priors p(z) as modules that return distribution objects over z (event shape (D,))."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Independent, Normal

LOG_2PI = math.log(2 * math.pi)


class StandardNormalDistribution(Independent):
    """N(0, I) over D dimensions; ``log_prob`` in two passes (-|z|^2/2 - D/2 log 2 pi), the KL against a
    DiagonalGaussian analytic (torch's Normal/Normal closed form)."""

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor):
        super().__init__(Normal(loc, scale, validate_args=False), 1, validate_args=False)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z.square().sum(-1) + z.shape[-1] * LOG_2PI)

    def draw(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes z ~ N(0, temperature^2 I): (n, D)."""
        loc = self.base_dist.loc
        return temperature * torch.randn((n, loc.shape[-1]), generator=generator, device=loc.device)


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I): no parameters (its zero mean and unit scale are non-persistent buffers)."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)
        self.register_buffer("scale", torch.ones(latent_dim), persistent=False)

    def forward(self, encode=None) -> StandardNormalDistribution:
        """The distribution; ``encode`` (x -> q(z|x)) is for priors built from the encoder (VampPrior)."""
        return StandardNormalDistribution(self.loc, self.scale)
