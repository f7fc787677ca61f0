"""Two stochastic layers in Tomczak & Welling's HVAE form: p(z2) p(z1|z2) p(x|z1, z2), q(z2|x) q(z1|x, z2).

The latent z is [z1, z2] (D1 + D2 numbers); the decoder reads both. The posterior samples z2 first, then z1
given x and z2; the prior p(z2) is any single-layer prior (N(0, I), a VampPrior over q(z2|u_k), a mixture) and
p(z1|z2) a Gaussian whose parameters a small network computes from z2. Neither pair has a closed-form KL, so
the ELBO uses the Monte-Carlo KL; ``layer_log_probs`` splits log q and log p by layer for per-layer KLs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, constraints

from vaelab.models.likelihoods import full_precision
from vaelab.models.networks import mlp
from vaelab.models.posteriors import DiagonalGaussian, clamp_logvar, standard_noise


def _gaussian(net: nn.Module, inputs: torch.Tensor, bounds: tuple[float, float] | None) -> DiagonalGaussian:
    mu, logvar = full_precision(net(inputs)).chunk(2, -1)
    return DiagonalGaussian(mu, clamp_logvar(logvar, bounds))


class _TwoLayers(Distribution):
    """A density over z = [z1, z2] that factorises as (bottom given top) x top: log_prob is the sum of the
    layers' terms; ``lower(z2)`` is the bottom layer's distribution given z2."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    d1: int
    top: Distribution

    def lower(self, z2: torch.Tensor) -> Distribution:
        raise NotImplementedError

    def layer_log_probs(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """The bottom and top layers' log densities of z (..., D1 + D2): {'z1': ..., 'z2': ...}."""
        z1, z2 = z[..., :self.d1], z[..., self.d1:]
        return {"z1": self.lower(z2).log_prob(z1), "z2": self.top.log_prob(z2)}

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        parts = self.layer_log_probs(z)
        return parts["z1"] + parts["z2"]


class HierarchicalDistribution(_TwoLayers):
    """q(z2|x) q(z1|x, z2) over z = [z1, z2]: batch (B,), event (D1 + D2,)."""

    has_rsample = True

    def __init__(self, top: DiagonalGaussian, features: torch.Tensor, head: "HierarchicalPosterior"):
        self.top, self.features, self.head = top, features, head  # top = q(z2|x); features h(x) (B, H)
        self.d1 = head.d1
        super().__init__(top.batch_shape, torch.Size([head.d1 + top.event_shape[0]]), validate_args=False)

    def bottom(self, z2: torch.Tensor) -> DiagonalGaussian:
        """q(z1|x, z2) for z2 (..., B, D2)."""
        h = self.features.expand(*z2.shape[:-1], self.features.shape[-1])
        return _gaussian(self.head.q1, torch.cat([h, z2], -1), self.head.logvar_bounds)

    def rsample_with_log_prob(self, samples: int = 1, eps: torch.Tensor | None = None,
                              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if eps is None:
            eps = standard_noise(samples, torch.empty(*self.batch_shape, self.event_shape[0],
                                                      device=self.top.mu.device, dtype=self.top.mu.dtype), generator)
        z2, log_q2 = self.top.rsample_with_log_prob(samples, eps=eps[..., self.d1:])  # (L, B, D2)
        z1, log_q1 = self.bottom(z2).rsample_with_log_prob(samples, eps=eps[..., :self.d1])  # (L, B, D1)
        return torch.cat([z1, z2], -1), log_q1 + log_q2

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = (), eps: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        samples = int(torch.Size(sample_shape).numel()) if len(sample_shape) else 1
        return self.rsample_with_log_prob(samples, eps, generator)[0]

    lower = bottom

    def detach(self) -> Distribution:
        raise NotImplementedError("a hierarchical posterior with its parameters stopped needs the generalised "
                                  "doubly reparameterized estimator of Bauer & Mnih (2021), which vaelab does not have")


class HierarchicalPosterior(nn.Module):
    """Head: encoder outputs (mu2, log sigma2^2, features h) -> q(z2|x) q(z1|x, z2)."""

    noise_per_latent = 1

    def __init__(self, d1: int, d2: int, features: int, activation: str, gated: bool = False,
                 logvar_bounds: tuple[float, float] | None = None):
        super().__init__()
        self.d1, self.d2, self.n_features, self.logvar_bounds = d1, d2, features, logvar_bounds
        self.q1 = mlp([features + d2, features, 2 * d1], activation, gated)
        self.layers = [("z1", 0, d1), ("z2", d1, d1 + d2)]

    @property
    def n_inputs(self) -> int:
        return 2 * self.d2 + self.n_features

    def forward(self, out: torch.Tensor) -> HierarchicalDistribution:
        out = full_precision(out)
        mu2, logvar2, h = out[..., :self.d2], out[..., self.d2:2 * self.d2], out[..., 2 * self.d2:]
        top = DiagonalGaussian(mu2, clamp_logvar(logvar2, self.logvar_bounds))
        return HierarchicalDistribution(top, torch.tanh(h), self)

    def top_layer(self, q: HierarchicalDistribution) -> DiagonalGaussian:
        """q(z2|x), the layer a VampPrior on z2 is made of."""
        return q.top


class HierarchicalPriorDistribution(_TwoLayers):
    """p(z2) p(z1|z2) over z = [z1, z2]."""

    def __init__(self, top: Distribution, prior: "HierarchicalPrior"):
        self.top, self.prior = top, prior
        self.d1 = prior.d1
        super().__init__(torch.Size(), torch.Size([prior.d1 + top.event_shape[0]]), validate_args=False)

    def conditional(self, z2: torch.Tensor) -> DiagonalGaussian:
        """p(z1|z2)."""
        return _gaussian(self.prior.p1, z2, self.prior.logvar_bounds)

    lower = conditional

    def draw(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral: z2 ~ p(z2), then z1 ~ p(z1|z2), each at ``temperature``: (n, D1 + D2)."""
        z2 = self.top.draw(n, temperature, generator)
        p1 = self.conditional(z2)
        eps = torch.randn((n, self.d1), generator=generator, device=z2.device, dtype=z2.dtype)
        return torch.cat([p1.mu + temperature * p1.std * eps, z2], -1)


class HierarchicalPrior(nn.Module):
    """p(z2) (``top``, any single-layer prior over D2 numbers) and p(z1|z2) = N(mu(z2), sigma^2(z2))."""

    def __init__(self, top: nn.Module, d1: int, d2: int, hidden: int, activation: str, gated: bool = False,
                 logvar_bounds: tuple[float, float] | None = None):
        super().__init__()
        self.top, self.d1, self.logvar_bounds = top, d1, logvar_bounds
        self.p1 = mlp([d2, hidden, 2 * d1], activation, gated)
        self.description = f"p(z2) p(z1|z2), p(z2) = {getattr(top, 'description', 'p(z2)')}"

    def initialise_from_data(self, x: torch.Tensor, generator: torch.Generator) -> None:
        if hasattr(self.top, "initialise_from_data"):
            self.top.initialise_from_data(x, generator)

    def forward(self, encode_top=None) -> HierarchicalPriorDistribution:
        return HierarchicalPriorDistribution(self.top(encode_top), self)

    @property
    def encoder_inputs(self):
        """The top prior's inputs to encode (a VampPrior's pseudo-inputs), or None."""
        return getattr(self.top, "encoder_inputs", None)

    def from_posteriors(self, q_top: Distribution) -> HierarchicalPriorDistribution:
        return HierarchicalPriorDistribution(self.top.from_posteriors(q_top), self)
