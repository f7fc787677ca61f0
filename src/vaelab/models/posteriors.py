"""Posterior families q(z|x): distribution objects built from an encoder's output.

A posterior is a ``torch.distributions`` object over z (batch shape (B,), event shape (D,)) with, beyond
``rsample``/``log_prob``/``mean``:
- ``rsample(sample_shape, eps=None)``: z from given standard-normal noise ``eps`` (L, B, noise_dim), so
  that data-parallel ranks and seeded evaluation use the same noise;
- ``rsample_with_log_prob(samples, eps)``: z and log q(z|x) together (cheap from eps; a flow needs it);
- ``detach()``: the same q with its parameters stopped (STL and DReG evaluate log q there).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal, constraints

from vaelab.models.likelihoods import full_precision

LOG_2PI = math.log(2 * math.pi)


def standard_noise(samples: int, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """eps ~ N(0, I) of shape (samples, *like.shape), on like's device and dtype."""
    return torch.randn((samples, *like.shape), generator=generator, device=like.device, dtype=like.dtype)


class DiagonalGaussian(Independent):
    """q(z|x) = N(mu, diag sigma^2) from mu and log sigma^2, each (B, D); z = mu + sigma * eps."""

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor):
        self.mu, self.logvar = mu, logvar
        super().__init__(Normal(mu, self.std, validate_args=False), 1, validate_args=False)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = (), eps: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps: (L, B, D) for ``sample_shape`` (L,) or given eps (L, B, D)."""
        if eps is None:
            samples = int(torch.Size(sample_shape).numel()) if len(sample_shape) else 1
            eps = standard_noise(samples, self.mu, generator)
        return self.mu + self.std * eps

    def rsample_with_log_prob(self, samples: int = 1, eps: torch.Tensor | None = None,
                              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z (L, B, D), log q(z|x) (L, B)); log q from eps: -|eps|^2/2 - sum log sigma - D/2 log 2 pi."""
        if eps is None:
            eps = standard_noise(samples, self.mu, generator)
        z = self.mu + self.std * eps
        log_q = -0.5 * (eps.square().sum(-1) + self.logvar.sum(-1) + self.mu.shape[-1] * LOG_2PI)
        return z, log_q

    def detach(self) -> "DiagonalGaussian":
        return DiagonalGaussian(self.mu.detach(), self.logvar.detach())


class PointMass(Distribution):
    """The autoencoder's code z = f(x) as a degenerate 'posterior' (no spread, no density)."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, code: torch.Tensor):
        self.mu = code
        super().__init__(code.shape[:-1], code.shape[-1:], validate_args=False)

    @property
    def logvar(self) -> torch.Tensor:
        return torch.full_like(self.mu, float("-inf"))

    @property
    def mean(self) -> torch.Tensor:
        return self.mu

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = (), eps: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        return self.mu.expand(*sample_shape, *self.mu.shape)


def clamp_logvar(logvar: torch.Tensor, bounds: tuple[float, float] | None) -> torch.Tensor:
    """log sigma^2 clamped to ``bounds`` (hardtanh, as Tomczak & Welling's gated models do), or as it is."""
    return logvar if bounds is None else F.hardtanh(logvar, *bounds)


class GaussianPosterior(nn.Module):
    """Head of a Gaussian encoder: its 2D outputs -> DiagonalGaussian(mu, log sigma^2), float32 under autocast."""

    noise_per_latent = 1  # standard-normal numbers drawn per latent dimension and sample

    def __init__(self, latent_dim: int = 0, logvar_bounds: tuple[float, float] | None = None):
        super().__init__()
        self.latent_dim, self.logvar_bounds = latent_dim, logvar_bounds
        self.layers = [("z", 0, latent_dim)]

    @property
    def n_inputs(self) -> int:
        """Encoder outputs this head reads: mu and log sigma^2."""
        return 2 * self.latent_dim

    def forward(self, out: torch.Tensor) -> DiagonalGaussian:
        mu, logvar = full_precision(out).chunk(2, dim=-1)  # (B, D) each
        return DiagonalGaussian(mu, clamp_logvar(logvar, self.logvar_bounds))


class PointPosterior(nn.Module):
    """Head of the autoencoder's encoder: its D outputs are the code itself."""

    noise_per_latent = 0

    def __init__(self, latent_dim: int = 0):
        super().__init__()
        self.n_inputs = latent_dim
        self.layers = [("z", 0, latent_dim)]

    def forward(self, out: torch.Tensor) -> PointMass:
        return PointMass(full_precision(out))
