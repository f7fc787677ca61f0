"""Decoder likelihoods p(x|z) as torch.distributions objects over the flattened pixels (..., D).

The decoder network outputs unconstrained numbers; a head turns them into a distribution:
Bernoulli logits for binary pixels, a Gaussian with sigmoid mean and learned log-variance, or a
continuous Bernoulli for grayscale values in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, ContinuousBernoulli, Distribution, Independent, Normal



def full_precision(t: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 outputs (under autocast) -> float32; float32 and float64 pass unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class LikelihoodHead(nn.Module):
    """Turns decoder outputs (..., n_params * D) into p(x|z) = Independent(..., 1) over D pixels."""

    def __init__(self, likelihood: str, data_dim: int, gaussian_variance: str = "pixel",
                 min_log_variance: float = -7.0, identity_mean: bool = False):
        super().__init__()
        self.identity_mean = bool(identity_mean)  # a Gaussian's mean unbounded (standardised tables), else sigmoid
        self.likelihood = likelihood
        self.data_dim = data_dim
        self.network_variance = likelihood == "gaussian" and gaussian_variance == "network"
        self.min_log_variance = float(min_log_variance)
        if likelihood == "gaussian" and not self.network_variance:
            self.log_variance = nn.Parameter(torch.full((data_dim,), -2.0))  # learned log sigma^2 per pixel (init sigma ~ 0.37)
        self.n_params = 2 if self.network_variance else 1

    def _log_variance(self, out: torch.Tensor) -> torch.Tensor:
        raw = out[..., self.data_dim:] if self.network_variance else self.log_variance
        floor = self.min_log_variance
        return floor + F.softplus(raw - floor)  # smooth floor: log sigma^2 > min_log_variance

    def _gaussian_mean(self, out: torch.Tensor) -> torch.Tensor:
        mean = out[..., : self.data_dim]
        return mean if self.identity_mean else torch.sigmoid(mean)

    def forward(self, out: torch.Tensor) -> Distribution:
        """p(x|z) for decoder output ``out`` (..., n_params * D); batch shape (...), event shape (D,)."""
        if self.likelihood == "bernoulli":
            return Independent(Bernoulli(logits=out, validate_args=False), 1)
        if self.likelihood == "continuous-bernoulli":
            return Independent(ContinuousBernoulli(logits=out, validate_args=False), 1)
        mean = self._gaussian_mean(out)
        std = torch.exp(0.5 * self._log_variance(out)).expand_as(mean)
        return Independent(Normal(mean, std, validate_args=False), 1)

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels, (...) for outputs (..., n_params * D) and flat x (B, D).

        Equal to ``self(out).log_prob(x)``; the Bernoulli case is written out as
        sum_i x_i * l_i - softplus(l_i), two passes over the logits instead of the distribution's five.
        """
        if self.likelihood == "bernoulli":
            return (out * x).sum(-1) - F.softplus(out).sum(-1)
        return self(out).log_prob(x)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x|z] (..., D): in [0, 1] for every likelihood here, except a table's unbounded Gaussian mean."""
        if self.likelihood == "bernoulli":
            return torch.sigmoid(out)
        if self.likelihood == "gaussian":
            return self._gaussian_mean(out)
        return ContinuousBernoulli(logits=out, validate_args=False).mean
