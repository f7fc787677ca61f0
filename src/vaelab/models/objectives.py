"""Training objectives (ELBO, IWAE) and gradient estimators (pathwise, score function, sticking the landing).

Each estimator returns a surrogate ``loss`` whose gradient is an unbiased estimate of -grad ELBO:

- pathwise: z = mu + sigma * eps, differentiate through the sample (Kingma & Welling 2014);
- score-function (REINFORCE): z sampled without gradient; grad_phi E_q[log p(x|z)] is estimated as
  (log p(x|z) - b) * grad_phi log q(z|x), b a running-mean baseline (a control variate: it changes the
  variance, not the mean, because E_q[grad log q] = 0); the analytic KL is differentiated exactly;
- stl (Roeder et al. 2017): reparameterized z, the KL written as E_q[log q(z|x) - log p(z)] with the
  variational parameters detached inside log q, which drops the score term (zero in expectation).

The IWAE objective (Burda et al. 2016) uses k importance samples: log (1/k) sum_j w_j, pathwise.
The reported ``elbo``/``reconstruction``/``kl`` are always the analytic-KL ELBO of the samples drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.distributions import Independent, Normal

from vaelab.errors import ConfigError
from vaelab.models.likelihoods import full_precision
from vaelab.models.outputs import ELBOOutput, Posterior

OBJECTIVES = ("elbo", "iwae")
ESTIMATORS = ("pathwise", "score-function", "stl")


def check_objective(objective: str, estimator: str) -> None:
    """Refuse combinations vaelab does not estimate without bias."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {estimator!r}: expected one of {', '.join(ESTIMATORS)}")
    if objective == "iwae" and estimator != "pathwise":
        raise ConfigError(f"--objective iwae uses the pathwise estimator; {estimator} is implemented for the "
                          "ELBO only (STL applied to IWAE is biased, Tucker et al. 2019)")


def detached_log_q(posterior: Posterior, z: torch.Tensor) -> torch.Tensor:
    """log q(z|x) (L, B) with mu and sigma detached: gradients flow only through z (STL)."""
    q = Independent(Normal(posterior.mu.detach(), posterior.std.detach(), validate_args=False), 1)
    return q.log_prob(z)


@dataclass
class Objective:
    """What the training loop minimises; holds the score-function baseline (saved in checkpoints)."""

    name: str = "elbo"
    estimator: str = "pathwise"
    samples: int = 1  # L for the ELBO, k for IWAE
    use_baseline: bool = True
    baseline: float = 0.0  # running mean of log p(x|z), the score-function control variate
    baseline_decay: float = 0.9
    baseline_ready: bool = False

    def __post_init__(self) -> None:
        check_objective(self.name, self.estimator)

    def __call__(self, model, x: torch.Tensor, beta: float = 1.0, eps: torch.Tensor | None = None) -> ELBOOutput:
        """Surrogate loss and ELBO terms for a batch x (B, C, H, W); ``eps`` (samples, B, D) optional noise."""
        if not hasattr(model, "prior"):  # the deterministic autoencoder has a single objective
            return model(x)
        if self.name == "iwae":
            return iwae(model, x, self.samples, eps)
        if self.estimator == "pathwise":
            return model.elbo(x, samples=self.samples, beta=beta, eps=eps)
        if self.estimator == "stl":
            return stl(model, x, self.samples, beta, eps)
        out = score_function(model, x, self.samples, beta, self.baseline if self._active() else 0.0, eps)
        self._update(out.reconstruction)
        return out

    def _active(self) -> bool:
        return self.use_baseline and self.baseline_ready

    def _update(self, rec: torch.Tensor) -> None:
        if self.use_baseline:
            m = float(rec.detach().mean())
            self.baseline = m if not self.baseline_ready else \
                self.baseline_decay * self.baseline + (1 - self.baseline_decay) * m
            self.baseline_ready = True

    def state(self) -> dict:
        return {"baseline": self.baseline, "baseline_ready": self.baseline_ready}

    def load_state(self, state: dict) -> None:
        self.baseline = float(state.get("baseline", 0.0))
        self.baseline_ready = bool(state.get("baseline_ready", False))


def _log_px_z(model, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) (L, B) in float32 (the decoder may run under bf16 autocast)."""
    return model.likelihood.log_prob(full_precision(model.decoder(z)), x.flatten(1))


def _terms(model, x: torch.Tensor, samples: int, detach_z: bool, eps: torch.Tensor | None):
    post = model.encode(x)  # (B, D)
    z = model.reparameterize(post, samples, eps=eps)  # (L, B, D)
    if detach_z:
        z = z.detach()
    log_px_z = _log_px_z(model, z, x)  # (L, B)
    kl = torch.distributions.kl_divergence(post.distribution(), model.prior(post.mu))  # (B,)
    return post, z, log_px_z, kl


def score_function(model, x: torch.Tensor, samples: int = 1, beta: float = 1.0, baseline: float = 0.0,
                   eps: torch.Tensor | None = None) -> ELBOOutput:
    """REINFORCE for E_q[log p(x|z)] with baseline ``baseline``; analytic KL; decoder by its own gradient."""
    post, z, log_px_z, kl = _terms(model, x, samples, True, eps)
    log_q = post.distribution().log_prob(z)  # (L, B), differentiable in mu, sigma only
    advantage = (log_px_z.detach() - baseline)
    surrogate = (log_px_z + advantage * log_q).mean(0)  # grad: theta-part + score term for phi
    rec = log_px_z.detach().mean(0)
    loss = -(surrogate - beta * kl).mean()
    return ELBOOutput(loss=loss, elbo=rec - kl.detach(), reconstruction=rec, kl=kl.detach(), z=z, posterior=post)


def stl(model, x: torch.Tensor, samples: int = 1, beta: float = 1.0,
        eps: torch.Tensor | None = None) -> ELBOOutput:
    """Sticking the landing: reparameterized z, log q with detached variational parameters."""
    post = model.encode(x)
    z = model.reparameterize(post, samples, eps=eps)  # (L, B, D)
    log_px_z = _log_px_z(model, z, x)  # (L, B)
    kl_sampled = (detached_log_q(post, z) - model.prior(post.mu).log_prob(z)).mean(0)  # (B,)
    with torch.no_grad():
        kl = torch.distributions.kl_divergence(post.distribution(), model.prior(post.mu))
    rec = log_px_z.mean(0)
    loss = -(rec - beta * kl_sampled).mean()
    return ELBOOutput(loss=loss, elbo=rec.detach() - kl, reconstruction=rec.detach(), kl=kl, z=z, posterior=post)


def iwae(model, x: torch.Tensor, k: int, eps: torch.Tensor | None = None) -> ELBOOutput:
    """IWAE_k = log (1/k) sum_j p(x, z_j) / q(z_j|x), pathwise; ``iwae`` field per example."""
    post = model.encode(x)
    z = model.reparameterize(post, k, eps=eps)  # (k, B, D)
    log_px_z = _log_px_z(model, z, x)  # (k, B)
    log_w = log_px_z + model.prior(post.mu).log_prob(z) - post.distribution().log_prob(z)  # (k, B)
    bound = torch.logsumexp(log_w, 0) - math.log(k)  # (B,)
    with torch.no_grad():
        kl = torch.distributions.kl_divergence(post.distribution(), model.prior(post.mu))
        rec = log_px_z.mean(0)
    return ELBOOutput(loss=-bound.mean(), elbo=rec - kl, reconstruction=rec, kl=kl, z=z, posterior=post,
                      iwae=bound.detach())
