"""Flow posteriors: a diagonal Gaussian pushed through invertible steps, log q(z|x) by the change of variables.

- Inverse autoregressive flow (Kingma et al. 2016): each step is a MADE network of z (masked so that output j
  sees only z_<j) plus a context vector h from the encoder; it outputs m and s, and
  z <- sigma * z + (1 - sigma) * m with sigma = sigmoid(s). The Jacobian is triangular with diagonal sigma, so
  log|det| = sum log sigmoid(s). The variable order is reversed between steps, and the gate biases start at
  +2 (sigma ~ 0.88), so each step starts near the identity.
- Planar flow (Rezende & Mohamed 2015): z <- z + u_hat tanh(w^T z + b), with u_hat = u + (m(w^T u) - w^T u) w / |w|^2,
  m(a) = -1 + softplus(a), so that w^T u_hat >= -1 and the step stays invertible; log|det| = log|1 + u_hat^T psi|,
  psi = (1 - tanh^2(w^T z + b)) w. Its parameters are amortised: the encoder outputs them for each x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, constraints

from vaelab.models.likelihoods import full_precision
from vaelab.models.posteriors import DiagonalGaussian, clamp_logvar

GATE_BIAS = 2.0  # sigmoid(2) ~ 0.88: an IAF step starts close to the identity


class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 mask (MADE, Germain et al. 2015)."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADEStep(nn.Module):
    """One IAF step's network: (z (.., D), h (.., H)) -> (m, s), output j depending only on z_<j and h."""

    def __init__(self, latent_dim: int, hidden: int, context_dim: int):
        super().__init__()
        d = latent_dim
        in_deg = torch.arange(1, d + 1)  # (D,)
        hid_deg = torch.arange(hidden) % max(d - 1, 1) + 1  # (H,) in 1..D-1
        self.inp = MaskedLinear(d, hidden, (hid_deg[:, None] >= in_deg[None, :]))
        self.ctx = nn.Linear(context_dim, hidden)
        out_mask = (in_deg[:, None] > hid_deg[None, :])  # (D, H): output j sees hidden units of degree < j
        self.m = MaskedLinear(hidden, d, out_mask)
        self.s = MaskedLinear(hidden, d, out_mask)
        nn.init.zeros_(self.s.weight)  # the gate starts at sigmoid(GATE_BIAS) everywhere
        nn.init.constant_(self.s.bias, GATE_BIAS)

    def forward(self, z: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = F.elu(self.inp(z) + self.ctx(h))
        return self.m(a), self.s(a)


class IAFDistribution(Distribution):
    """q(z|x): base DiagonalGaussian(mu, sigma) then the IAF steps; batch (B,), event (D,)."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, base: DiagonalGaussian, context: torch.Tensor, steps: nn.ModuleList):
        self.base, self.context, self.steps = base, context, steps
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    def _forward(self, z: torch.Tensor, log_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.context  # (B, H): broadcast over the samples
        for step in self.steps:
            m, s = (full_precision(t) for t in step(z, h))  # float32 under bf16 autocast: log|det| sums stay fp32
            gate = torch.sigmoid(s)
            z = gate * z + (1 - gate) * m
            log_q = log_q - F.logsigmoid(s).sum(-1)  # minus log|det dz_t/dz_{t-1}|
            z = z.flip(-1)  # reverse the variable order for the next step
        return z, log_q

    def rsample_with_log_prob(self, samples: int = 1, eps: torch.Tensor | None = None,
                              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        z0, log_q0 = self.base.rsample_with_log_prob(samples, eps=eps, generator=generator)
        return self._forward(z0, log_q0)

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = (), eps: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        samples = int(torch.Size(sample_shape).numel()) if len(sample_shape) else 1
        return self.rsample_with_log_prob(samples, eps, generator)[0]

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) at any z (..., B, D), through the flow's inverse: D passes of each step's network (an
        autoregressive inverse is sequential), differentiable in z and in the parameters."""
        h = self.context
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for step in reversed(self.steps):
            z = z.flip(-1)
            prev = torch.zeros_like(z)
            for j in range(z.shape[-1]):  # output j depends on prev_<j only: solve one coordinate at a time
                m, s = (full_precision(t) for t in step(prev, h))
                gate = torch.sigmoid(s[..., j])
                value = (z[..., j] - (1 - gate) * m[..., j]) / gate
                prev = torch.cat([prev[..., :j], value.unsqueeze(-1), prev[..., j + 1:]], -1)
            _, s = step(prev, h)
            log_det = log_det + F.logsigmoid(full_precision(s)).sum(-1)
            z = prev
        return self.base.log_prob(z) - log_det

    def detach(self) -> "IAFDistribution":
        """The same flow with its parameters stopped (for STL and DReG): its log_prob is differentiable in z
        only."""
        return _StoppedIAF(self.base.detach(), self.context.detach(), self.steps)


class _StoppedIAF(IAFDistribution):
    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        params = list(self.steps.parameters())
        saved = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        try:
            return super().log_prob(z)
        finally:
            for p, r in zip(params, saved):
                p.requires_grad_(r)


class IAFPosterior(nn.Module):
    """Head: encoder outputs (mu, log sigma^2, context h) -> IAFDistribution with ``steps`` MADE steps."""

    noise_per_latent = 1

    def __init__(self, latent_dim: int, steps: int, hidden: int, context_dim: int,
                 logvar_bounds: tuple[float, float] | None = None):
        super().__init__()
        self.latent_dim, self.context_dim, self.logvar_bounds = latent_dim, context_dim, logvar_bounds
        self.steps = nn.ModuleList([MADEStep(latent_dim, hidden, context_dim) for _ in range(steps)])
        self.layers = [("z", 0, latent_dim)]

    @property
    def n_inputs(self) -> int:
        return 2 * self.latent_dim + self.context_dim

    def forward(self, out: torch.Tensor) -> IAFDistribution:
        out = full_precision(out)
        d = self.latent_dim
        mu, logvar, h = out[..., :d], out[..., d:2 * d], out[..., 2 * d:]
        return IAFDistribution(DiagonalGaussian(mu, clamp_logvar(logvar, self.logvar_bounds)), h, self.steps)


class PlanarDistribution(Distribution):
    """q(z|x): base DiagonalGaussian then planar steps with per-example parameters u, w (B, T, D), b (B, T)."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, base: DiagonalGaussian, u: torch.Tensor, w: torch.Tensor, b: torch.Tensor):
        self.base, self.w, self.b = base, w, b
        wu = (w * u).sum(-1, keepdim=True)  # (B, T, 1)
        self.u_hat = u + (-1 + F.softplus(wu) - wu) * w / (w * w).sum(-1, keepdim=True).clamp_min(1e-12)
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    def rsample_with_log_prob(self, samples: int = 1, eps: torch.Tensor | None = None,
                              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        z, log_q = self.base.rsample_with_log_prob(samples, eps=eps, generator=generator)  # (L, B, D), (L, B)
        for t in range(self.w.shape[-2]):
            w, u, b = self.w[:, t], self.u_hat[:, t], self.b[:, t]  # (B, D), (B, D), (B,)
            a = torch.tanh((z * w).sum(-1) + b)  # (L, B)
            psi = (1 - a * a).unsqueeze(-1) * w  # (L, B, D)
            log_q = log_q - torch.log((1 + (psi * u).sum(-1)).abs() + 1e-12)
            z = z + u * a.unsqueeze(-1)
        return z, log_q

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = (), eps: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        samples = int(torch.Size(sample_shape).numel()) if len(sample_shape) else 1
        return self.rsample_with_log_prob(samples, eps, generator)[0]

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("a planar flow has no closed-form inverse, so log q(z|x) is known only for the "
                                  "samples it draws")

    def detach(self) -> "PlanarDistribution":
        raise NotImplementedError("a planar flow has no closed-form inverse, so log q(z|x) at stopped parameters "
                                  "is not available")


class PlanarPosterior(nn.Module):
    """Head: encoder outputs (mu, log sigma^2, then u, w, b for each of ``steps`` steps) -> PlanarDistribution."""

    noise_per_latent = 1

    def __init__(self, latent_dim: int, steps: int, logvar_bounds: tuple[float, float] | None = None):
        super().__init__()
        self.latent_dim, self.n_steps, self.logvar_bounds = latent_dim, steps, logvar_bounds
        self.layers = [("z", 0, latent_dim)]

    @property
    def n_inputs(self) -> int:
        return 2 * self.latent_dim + self.n_steps * (2 * self.latent_dim + 1)

    def forward(self, out: torch.Tensor) -> PlanarDistribution:
        out = full_precision(out)
        d, t = self.latent_dim, self.n_steps
        mu, logvar = out[..., :d], out[..., d:2 * d]
        flow = out[..., 2 * d:].reshape(*out.shape[:-1], t, 2 * d + 1)  # (B, T, 2D + 1)
        u, w, b = flow[..., :d], flow[..., d:2 * d], flow[..., 2 * d]
        return PlanarDistribution(DiagonalGaussian(mu, clamp_logvar(logvar, self.logvar_bounds)), u, w, b)

