"""Priors p(z) as modules that return distribution objects over z (event shape (D,))."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, constraints

from vaelab.models.likelihoods import full_precision

LOG_2PI = math.log(2 * math.pi)
DiagonalGaussianLike = Distribution  # anything with .mu and .logvar (K, D)


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

    description = "N(0, I)"

    def __init__(self, latent_dim: int):
        super().__init__()
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)
        self.register_buffer("scale", torch.ones(latent_dim), persistent=False)

    def forward(self, encode=None) -> StandardNormalDistribution:
        """The distribution; ``encode`` (x -> q(z|x)) is for priors built from the encoder (VampPrior)."""
        return StandardNormalDistribution(self.loc, self.scale)


class MixtureOfDiagonalGaussians(Distribution):
    """p(z) = sum_k w_k N(z; mu_k, diag sigma_k^2) over D dimensions; K components (K, D).

    ``log_prob`` writes the K quadratic forms as two matrix products, sum_d z_d^2 / s_kd^2 and
    sum_d z_d mu_kd / s_kd^2, instead of broadcasting (N, K, D) tensors."""

    arg_constraints: dict = {}
    support = constraints.real_vector

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor, log_weights: torch.Tensor | None = None):
        self.mu, self.logvar = mu, logvar  # (K, D)
        k, d = mu.shape
        self.log_weights = (torch.full((k,), -math.log(k), dtype=mu.dtype, device=mu.device)
                            if log_weights is None else torch.log_softmax(log_weights, 0))
        # float64: expanded, the quadratic form cancels large terms (z^2 / s^2 against 2 z mu / s^2, each ~ mu^2 / s^2);
        # with narrow components (s ~ 0.01) and |mu| ~ 5 float32 would lose whole nats
        mu64, logvar64 = mu.double(), logvar.double()
        self._precision = torch.exp(-logvar64)  # (K, D)
        self._scaled_mu = mu64 * self._precision  # (K, D)
        self._const = -0.5 * ((mu64 * self._scaled_mu).sum(-1) + logvar64.sum(-1) + d * LOG_2PI)  # (K,)
        super().__init__(torch.Size(), torch.Size([d]), validate_args=False)

    def component_log_probs(self, z: torch.Tensor) -> torch.Tensor:
        """log w_k + log N(z; mu_k, sigma_k^2) for every component: (..., K), in float64."""
        flat = z.reshape(-1, z.shape[-1]).double()  # (N, D)
        with torch.autocast(flat.device.type, enabled=False):  # no bf16 autocast of the quadratic forms
            quad = (flat * flat) @ self._precision.T - 2.0 * (flat @ self._scaled_mu.T)  # (N, K)
        out = self._const + self.log_weights.double() - 0.5 * quad
        return out.reshape(*z.shape[:-1], -1)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.component_log_probs(z), -1).to(full_precision(z).dtype)

    def draw(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes: a component k ~ w, then z ~ N(mu_k, temperature^2 sigma_k^2): (n, D)."""
        k = torch.multinomial(self.log_weights.exp(), n, replacement=True, generator=generator)
        eps = torch.randn((n, self.mu.shape[1]), generator=generator, device=self.mu.device, dtype=self.mu.dtype)
        return self.mu[k] + temperature * torch.exp(0.5 * self.logvar[k]) * eps


class VampPrior(nn.Module):
    """p(z) = (1/K) sum_k q(z|u_k) (Tomczak & Welling 2018): the posteriors of K learned pseudo-inputs.

    The pseudo-inputs are sigmoid(raw) so they stay in [0, 1], and are initialised from training images
    (``initialise_from_data``). The encoder is the model's own, passed in at each call (not a submodule of
    the prior, so its weights are stored once)."""

    def __init__(self, n_pseudo: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.raw = nn.Parameter(0.1 * torch.randn(n_pseudo, *image_shape))
        self.description = f"the VampPrior ({n_pseudo} pseudo-inputs)"

    @property
    def pseudo_inputs(self) -> torch.Tensor:
        """The K pseudo-inputs u_k (K, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.raw)

    @torch.no_grad()
    def initialise_from_data(self, x: torch.Tensor, generator: torch.Generator) -> None:
        """u_k := K distinct training images (pulled into [0.05, 0.95] so that the sigmoid keeps a gradient)."""
        idx = torch.randperm(x.shape[0], generator=generator)[: self.raw.shape[0]]
        images = x[idx].to(self.raw.device, self.raw.dtype).clamp(0, 1)  # (K, C, H, W)
        self.raw[: images.shape[0]].copy_(torch.logit(0.05 + 0.9 * images))

    def encoder_inputs(self) -> torch.Tensor:
        """What this prior needs encoded: the pseudo-inputs (K, C, H, W)."""
        return self.pseudo_inputs

    def from_posteriors(self, q: DiagonalGaussianLike) -> MixtureOfDiagonalGaussians:
        """The mixture of the pseudo-inputs' posteriors q(z|u_k) (batch (K,))."""
        return MixtureOfDiagonalGaussians(q.mu, q.logvar)

    def forward(self, encode) -> MixtureOfDiagonalGaussians:
        return self.from_posteriors(encode(self.pseudo_inputs))  # q(z|u_k): a DiagonalGaussian of batch (K,)


class MixturePrior(nn.Module):
    """p(z) = sum_k w_k N(mu_k, diag sigma_k^2) with learned means, variances and weights."""

    def __init__(self, n_components: int, latent_dim: int):
        super().__init__()
        self.mu = nn.Parameter(torch.randn(n_components, latent_dim))
        self.logvar = nn.Parameter(torch.zeros(n_components, latent_dim))
        self.logits = nn.Parameter(torch.zeros(n_components))
        self.description = f"a mixture of {n_components} Gaussians"

    def forward(self, encode=None) -> MixtureOfDiagonalGaussians:
        return MixtureOfDiagonalGaussians(self.mu, self.logvar, self.logits)
