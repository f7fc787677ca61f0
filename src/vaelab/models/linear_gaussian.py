"""Probabilistic PCA as a VAE with everything in closed form: the ground truth for the estimators.

p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I), so p(x) = N(b, W W^T + s^2 I) and the posterior p(z|x) is
Gaussian. With orthogonal columns of W the posterior covariance is diagonal, so a diagonal-Gaussian
encoder q(z|x) = N(A x + c, diag exp(logvar)) can equal it exactly (then ELBO = log p(x)).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from vaelab.models.model import LatentVariableModel
from vaelab.models.posteriors import GaussianPosterior
from vaelab.models.priors import StandardNormalPrior


class _GaussianHead(nn.Module):
    """log p(x|z) for a Gaussian with fixed isotropic noise s: the decoder output is the mean."""

    n_params = 1

    def __init__(self, log_s: float):
        super().__init__()
        self.log_s = nn.Parameter(torch.tensor(float(log_s)))

    def forward(self, mean: torch.Tensor) -> Distribution:
        return Independent(Normal(mean, self.log_s.exp().expand_as(mean), validate_args=False), 1)

    def log_prob(self, mean: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self(mean).log_prob(x)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out


class _LinearEncoder(nn.Module):
    """x -> (A x + c, logvar): the two halves a GaussianPosterior reads as mu and log sigma^2."""

    def __init__(self, A: torch.Tensor, c: torch.Tensor, logvar: torch.Tensor):
        super().__init__()
        self.A, self.c, self.logvar = nn.Parameter(A), nn.Parameter(c), nn.Parameter(logvar)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        mu = x.flatten(1) @ self.A.T + self.c  # (B, D)
        return torch.cat([mu, self.logvar.expand_as(mu)], -1)  # (B, 2D)


class _LinearDecoder(nn.Module):
    """z -> W z + b, the mean of p(x|z)."""

    def __init__(self, W: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.W, self.b = nn.Parameter(W), nn.Parameter(b)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return z @ self.W.T + self.b  # (..., X)


class LinearGaussianVAE(LatentVariableModel):
    """pPCA decoder with a linear Gaussian encoder; ``exact_log_prob`` and ``set_exact_posterior`` give truth."""

    def __init__(self, data_dim: int, latent_dim: int, noise_std: float = 0.5, seed: int = 0,
                 dtype: torch.dtype = torch.float64):
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(data_dim, latent_dim, generator=g, dtype=dtype))
        scales = torch.linspace(2.0, 0.8, latent_dim, dtype=dtype)
        W = q * scales  # (X, D), orthogonal columns
        b = 0.3 * torch.randn(data_dim, generator=g, dtype=dtype)
        A = 0.1 * torch.randn(latent_dim, data_dim, generator=g, dtype=dtype)
        super().__init__(encoder=_LinearEncoder(A, torch.zeros(latent_dim, dtype=dtype),
                                                torch.zeros(latent_dim, dtype=dtype)),
                         posterior=GaussianPosterior(latent_dim), prior=StandardNormalPrior(latent_dim).to(dtype),
                         decoder=_LinearDecoder(W, b), likelihood=_GaussianHead(math.log(noise_std)).to(dtype),
                         latent_dim=latent_dim, image_shape=(1, 1, data_dim))
        self.data_dim = data_dim

    # the parts' parameters under their pPCA names
    W = property(lambda self: self.decoder.W)
    b = property(lambda self: self.decoder.b)
    A = property(lambda self: self.encoder.A)
    c = property(lambda self: self.encoder.c)
    enc_logvar = property(lambda self: self.encoder.logvar)

    # --- closed forms -----------------------------------------------------------------------------
    def exact_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log N(x; b, W W^T + s^2 I): (B,)."""
        s2 = torch.exp(2 * self.likelihood.log_s)
        cov = self.W @ self.W.T + s2 * torch.eye(self.data_dim, dtype=self.W.dtype)
        return MultivariateNormal(self.b, covariance_matrix=cov).log_prob(x.flatten(1))

    def analytic_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """The ELBO in closed form (no sampling), differentiable: the true gradient for the estimator tests.

        E_q log N(x; Wz + b, s^2 I) = -X/2 log(2 pi s^2) - (|x - W mu - b|^2 + sum_j sigma_j^2 |W_j|^2) / (2 s^2).
        """
        post = self.encode(x)
        s2 = torch.exp(2 * self.likelihood.log_s)
        resid = x.flatten(1) - post.mu @ self.W.T - self.b  # (B, X)
        trace = (post.logvar.exp() * (self.W * self.W).sum(0)).sum(-1)  # (B,)
        rec = -0.5 * self.data_dim * torch.log(2 * math.pi * s2) - ((resid * resid).sum(-1) + trace) / (2 * s2)
        kl = 0.5 * (post.mu ** 2 + post.logvar.exp() - post.logvar - 1).sum(-1)
        return rec - kl

    @torch.no_grad()
    def set_exact_posterior(self) -> None:
        """Set the encoder to p(z|x): Sigma = (I + W^T W / s^2)^-1 (diagonal here), mu = Sigma W^T (x - b) / s^2."""
        s2 = torch.exp(2 * self.likelihood.log_s)
        precision = torch.eye(self.latent_dim, dtype=self.W.dtype) + self.W.T @ self.W / s2
        sigma = torch.linalg.inv(precision)
        self.A.copy_(sigma @ self.W.T / s2)
        self.c.copy_(-(sigma @ self.W.T @ self.b) / s2)
        self.enc_logvar.copy_(torch.log(torch.diagonal(sigma)))
