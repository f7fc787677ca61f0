"""The objectives and their gradient estimators, written once against the model's parts.

Every function takes a ``LatentVariableModel`` and images x (B, C, H, W) and reads only its interface:
``encode(x)`` -> q(z|x), ``prior_distribution()`` -> p(z), ``log_likelihood(x, z)`` -> log p(x|z). The KL is
analytic where torch knows a closed form for the pair (q, p), else the Monte-Carlo estimate
log q(z|x) - log p(z) on the same samples.

Gradient estimators of the ELBO (all unbiased; they differ in variance):
- pathwise (reparameterization): z = mu + sigma * eps, differentiate through the sample (Kingma & Welling 2014);
- score-function (REINFORCE): z sampled without gradient; grad_phi E_q[log p(x|z)] is estimated as
  (log p(x|z) - b) * grad_phi log q(z|x), b a running-mean baseline (a control variate: it changes the
  variance, not the mean, because E_q[grad log q] = 0); the analytic KL is differentiated exactly;
- stl (Roeder et al. 2017): reparameterized z, the KL written as E_q[log q(z|x) - log p(z)] with the
  variational parameters stopped inside log q, which drops the score term (zero in expectation).

The IWAE objective (Burda et al. 2016) uses k importance samples: log (1/k) sum_j w_j, with the pathwise or the
doubly reparameterized (DReG, Tucker et al. 2019) gradient.
The reported ``elbo``/``reconstruction``/``kl`` are always the ELBO of the samples drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.distributions import Distribution, kl_divergence

from vaelab.errors import ConfigError
from vaelab.models.config import check_objective
from vaelab.models.outputs import AEOutput, ELBOOutput


def analytic_kl(q: Distribution, p: Distribution) -> torch.Tensor | None:
    """KL(q || p) per example (B,) in closed form, or None where torch has none for the pair."""
    try:
        return kl_divergence(q, p)
    except NotImplementedError:
        return None


def elbo(model, x: torch.Tensor, samples: int = 1, beta: float = 1.0, eps: torch.Tensor | None = None,
         generator: torch.Generator | None = None, y: torch.Tensor | None = None,
         free_bits: float = 0.0, prior: Distribution | None = None) -> ELBOOutput:
    """Pathwise ELBO with L = ``samples`` draws (or the given noise ``eps`` (L, B, noise_dim)); ``beta``
    weighs the KL in ``loss`` only (the reported ``elbo`` is always the true bound). ``y``: the labels of a
    conditional model. ``free_bits`` > 0 (nats per stochastic layer) lets the loss ignore each layer's batch-mean
    KL below that floor (Kingma et al. 2016), which keeps a top layer from collapsing; the bound is unchanged.
    ``prior``: p(z) already computed (model.prior_distribution(), reused over the batches of an evaluation)."""
    if prior is None:
        q, p = model.posterior_and_prior(x, y)  # q: batch (B,), event (D,)
    else:
        q, p = model.encode(x, y), prior
    kl = analytic_kl(q, p)  # (B,), or None: then the Monte-Carlo KL of the same samples
    if kl is None:
        z, log_q = q.rsample_with_log_prob(samples, eps=eps, generator=generator)  # (L, B, D), (L, B)
        kl = (log_q - p.log_prob(z)).mean(0)
    else:
        z = q.rsample((samples,), eps=eps, generator=generator)  # (L, B, D)
    reconstruction = model.log_likelihood(x, z, y).mean(0)  # (B,)
    bound = reconstruction - kl
    if free_bits > 0:
        per_layer = layer_kls(q, p, z, model) if len(model.latent_layers) > 1 else {"z": kl}
        kl_term = sum(torch.clamp(k.mean(), min=free_bits) for k in per_layer.values())
        loss = -(reconstruction.mean() - beta * kl_term)
    else:
        loss = -(reconstruction - beta * kl).mean() if beta != 1.0 else -bound.mean()
    return ELBOOutput(loss=loss, elbo=bound, reconstruction=reconstruction, kl=kl, z=z, posterior=q)


def layer_kls(q: Distribution, p: Distribution, z: torch.Tensor, model,
              log_q: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """KL of each stochastic layer per example (B,): the Monte-Carlo log q - log p of the samples z (L, B, D),
    split by layer where the distributions split (two layers); one layer's is the analytic KL where there is
    one, else the Monte-Carlo estimate (with ``log_q`` of the samples, when known, for a flow)."""
    if hasattr(q, "layer_log_probs") and hasattr(p, "layer_log_probs"):
        lq, lp = q.layer_log_probs(z), p.layer_log_probs(z)
        return {name: (lq[name] - lp[name]).mean(0) for name in lq}
    kl = analytic_kl(q, p)
    if kl is None:
        kl = ((q.log_prob(z) if log_q is None else log_q) - p.log_prob(z)).mean(0)
    return {model.latent_layers[0][0]: kl}


def stl(model, x: torch.Tensor, samples: int = 1, beta: float = 1.0,
        eps: torch.Tensor | None = None, y: torch.Tensor | None = None) -> ELBOOutput:
    """Sticking the landing: reparameterized z, log q evaluated with the variational parameters stopped."""
    q, p = model.posterior_and_prior(x, y)
    z = q.rsample((samples,), eps=eps)  # (L, B, D)
    reconstruction = model.log_likelihood(x, z, y).mean(0)  # (L, B) -> (B,)
    kl_sampled = (stopped_log_prob(q, z) - p.log_prob(z)).mean(0)  # (B,), grads only through z
    kl = _reported_kl(q, p, z)
    loss = -(reconstruction - beta * kl_sampled).mean()
    return ELBOOutput(loss=loss, elbo=reconstruction.detach() - kl, reconstruction=reconstruction.detach(), kl=kl,
                      z=z, posterior=q)


def score_function(model, x: torch.Tensor, samples: int = 1, beta: float = 1.0, baseline: float = 0.0,
                   eps: torch.Tensor | None = None, y: torch.Tensor | None = None) -> ELBOOutput:
    """REINFORCE for E_q[log p(x|z)] with baseline ``baseline``; analytic KL; decoder by its own gradient."""
    q, p = model.posterior_and_prior(x, y)
    kl = analytic_kl(q, p)
    if kl is None:
        raise ConfigError("the score-function estimator needs a closed-form KL(q || p); this model's prior or "
                          "posterior has none: use --estimator pathwise or stl")
    z = q.rsample((samples,), eps=eps).detach()  # (L, B, D), no path gradient
    log_px_z = model.log_likelihood(x, z, y)  # (L, B)
    log_q = q.log_prob(z)  # (L, B), differentiable in the variational parameters only
    advantage = log_px_z.detach() - baseline
    surrogate = (log_px_z + advantage * log_q).mean(0)  # grad: theta-part + score term for phi
    rec = log_px_z.detach().mean(0)
    loss = -(surrogate - beta * kl).mean()
    return ELBOOutput(loss=loss, elbo=rec - kl.detach(), reconstruction=rec, kl=kl.detach(), z=z, posterior=q)


def iwae(model, x: torch.Tensor, k: int, eps: torch.Tensor | None = None,
         y: torch.Tensor | None = None, estimator: str = "pathwise") -> ELBOOutput:
    """IWAE_k = log (1/k) sum_j p(x, z_j) / q(z_j|x); its value per example in ``iwae``.

    ``estimator`` decides the encoder's gradient (the decoder's is sum_j w~_j grad log w_j in every case):
    - pathwise: differentiate the bound through z_j and through log q (Burda et al. 2016);
    - dreg (Tucker et al. 2019): log q evaluated with its parameters stopped, and the gradient reaching z_j
      scaled by w~_j, so the encoder gets sum_j w~_j^2 (d log w_j / d z_j)(d z_j / d phi): unbiased, and equal
      to STL at k = 1. The scaling is a hook on z, so it costs what IWAE costs (one backward pass). A prior that
      depends on the encoder (a VampPrior) keeps its direct path with weights w~_j, not squared.
    - stl: log q with stopped parameters and no rescaling: biased for k > 1; here only as the negative control
      of the tests (training refuses it).
    """
    q, p = model.posterior_and_prior(x, y)
    if estimator == "pathwise":
        z, log_q = q.rsample_with_log_prob(k, eps=eps)  # (k, B, D), (k, B)
    else:
        z = q.rsample((k,), eps=eps)  # (k, B, D), reparameterized in phi
        log_q = stopped_log_prob(q, z, f"--estimator {estimator}")  # (k, B), differentiable in z only
    log_px_z = model.log_likelihood(x, z, y)  # (k, B)
    log_w = log_px_z + p.log_prob(z) - log_q  # (k, B)
    bound = torch.logsumexp(log_w, 0) - math.log(k)  # (B,)
    if estimator == "dreg" and z.requires_grad:
        w = torch.softmax(log_w.detach(), 0).unsqueeze(-1)  # (k, B, 1) normalised weights, constants
        z.register_hook(lambda grad: grad * w)
    with torch.no_grad():
        kl = _reported_kl(q, p, z, log_q)
        rec = log_px_z.mean(0)
    return ELBOOutput(loss=-bound.mean(), elbo=rec - kl, reconstruction=rec, kl=kl, z=z, posterior=q,
                      iwae=bound.detach())


def reconstruction(model, x: torch.Tensor, y: torch.Tensor | None = None) -> AEOutput:
    """A model without a density (the autoencoder): -log p(x | z = f(x)) per example, averaged as the loss."""
    z = model.encode(x, y).mean  # (B, D)
    rec = model.log_likelihood(x, z, y)  # (B,)
    return AEOutput(loss=-rec.mean(), reconstruction=rec, z=z)


def stopped_log_prob(q: Distribution, z: torch.Tensor, who: str = "--estimator stl") -> torch.Tensor:
    """log q(z|x) with q's parameters stopped, differentiable in z only (STL, DReG); one clear line where the
    posterior cannot evaluate it (a planar flow has no inverse; two stochastic layers need Bauer & Mnih's
    generalised estimator)."""
    try:
        return q.detach().log_prob(z)
    except (AttributeError, NotImplementedError) as exc:
        why = f": {exc}" if str(exc) else ""
        raise ConfigError(f"{who} needs log q(z|x) with the posterior's parameters stopped, which this posterior "
                          f"({type(q).__name__}) cannot give{why}; use --estimator pathwise") from None


def _reported_kl(q: Distribution, p: Distribution, z: torch.Tensor,
                 log_q: torch.Tensor | None = None) -> torch.Tensor:
    """The KL reported beside a surrogate loss, without gradient: analytic, else Monte Carlo on z."""
    with torch.no_grad():
        kl = analytic_kl(q, p)
        if kl is None:
            log_q = q.log_prob(z) if log_q is None else log_q
            kl = (log_q - p.log_prob(z)).mean(0)
    return kl.detach()


@dataclass
class Objective:
    """What the training loop minimises; holds the score-function baseline (saved in checkpoints)."""

    name: str = "elbo"
    estimator: str = "pathwise"
    samples: int = 1  # L for the ELBO, k for IWAE
    use_baseline: bool = True
    free_bits: float = 0.0  # nats per stochastic layer below which the loss ignores a layer's KL (0: off)
    baseline: float = 0.0  # running mean of log p(x|z), the score-function control variate
    baseline_decay: float = 0.9
    baseline_ready: bool = False

    def __post_init__(self) -> None:
        check_objective(self.name, self.estimator)

    def __call__(self, model, x: torch.Tensor, beta: float = 1.0, eps: torch.Tensor | None = None,
                 y: torch.Tensor | None = None):
        """Surrogate loss and bound terms for a batch x (B, C, H, W) [with labels y (B,)]; ``eps``
        (samples, B, noise) optional."""
        if not model.has_density:  # the deterministic autoencoder has a single objective
            return reconstruction(model, x, y)
        if self.name == "iwae":
            return iwae(model, x, self.samples, eps, y, estimator=self.estimator)
        if self.estimator == "pathwise":
            return elbo(model, x, samples=self.samples, beta=beta, eps=eps, y=y, free_bits=self.free_bits)
        if self.estimator == "stl":
            return stl(model, x, self.samples, beta, eps, y)
        out = score_function(model, x, self.samples, beta, self.baseline if self._active() else 0.0, eps, y)
        self._update(out.reconstruction)
        return out

    @torch.no_grad()
    def check(self, model, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """One clear ConfigError, before any training, where this estimator cannot work with the model's parts
        (no closed-form KL for score-function; no stopped log q for stl and dreg)."""
        if not model.has_density:
            return
        q, p = model.posterior_and_prior(x, y)
        if self.estimator == "score-function" and analytic_kl(q, p) is None:
            raise ConfigError("the score-function estimator needs a closed-form KL(q || p); this model's prior or "
                              "posterior has none: use --estimator pathwise or stl")
        if self.estimator in ("stl", "dreg"):
            noise = model.noise(1, x.shape[0], torch.Generator(device=x.device).manual_seed(0), x.device)
            stopped_log_prob(q, q.rsample((1,), eps=noise), f"--estimator {self.estimator}")

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
