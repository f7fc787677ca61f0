"""Likelihood regret (Xiao, Yan & Amit 2020): how much an input's bound improves when the encoder is
fine-tuned on that one input.

For an input x, start from the trained encoder phi, take ``steps`` Adam steps on -bound(x; phi', theta) with
the decoder, the likelihood and the prior (theta) held fixed, and report bound(x; phi*, theta) - bound(x; phi,
theta). An amortised encoder is fitted to the training data: on an input like it, the encoder is already close
to the best posterior and there is little to gain; on an input unlike it, the posterior it gives is poor and
fine-tuning gains much. The bound is the ELBO (analytic KL where there is one) or a small-k IWAE bound,
evaluated before and after with the same noise (common random numbers), so the difference is not
sampling noise. log p_theta(x) itself does not change (theta is fixed): regret measures the encoder's gap, not
the likelihood.

Batched: each image of a batch gets its own copy of the encoder's parameters, and the copies are trained
together under ``torch.func.vmap`` (one batched matrix product per layer per step), so a batch of B images
costs about as much as B parallel fine-tunings with no per-image Python. Memory grows with B times the encoder's
size (parameters, gradients and Adam's two moments); ``batch_size`` bounds it. A VampPrior's p(z) is built from
the encoder: it is computed once with the trained encoder and kept fixed, as part of theta.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from vaelab.errors import ConfigError

BOUNDS = ("elbo", "iwae")


class _Bound(nn.Module):
    """bound(x) of a model whose encoder parameters ``torch.func.functional_call`` may swap in; the prior
    p(z) is the fixed one given (theta)."""

    def __init__(self, model: nn.Module, prior, iwae: bool):
        super().__init__()
        self.model, self.prior, self.iwae = model, prior, iwae

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W), eps (S, B, noise) -> the bound per image (B,)."""
        from vaelab.models.objectives import analytic_kl

        q = self.model.encode(x)  # batch (B,)
        z, log_q = q.rsample_with_log_prob(eps.shape[0], eps=eps)  # (S, B, D), (S, B)
        log_px_z = self.model.log_likelihood(x, z)  # (S, B)
        if self.iwae:
            log_w = log_px_z + self.prior.log_prob(z) - log_q  # (S, B)
            return torch.logsumexp(log_w, 0) - math.log(eps.shape[0])
        kl = analytic_kl(q, self.prior)  # (B,) in closed form, or None: the Monte-Carlo KL of the samples
        if kl is None:
            kl = (log_q - self.prior.log_prob(z)).mean(0)
        return log_px_z.mean(0) - kl


def encoder_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """phi: the encoder's and the posterior head's parameters by name (those regret fine-tunes)."""
    return {name: p for name, p in model.named_parameters() if name.startswith(("encoder.", "posterior."))}


def likelihood_regret(model: nn.Module, x: torch.Tensor, steps: int = 10, *, lr: float = 1e-3,
                      samples: int = 1, eval_samples: int = 16, bound: str = "elbo", batch_size: int = 16,
                      seed: int = 0, progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """Likelihood regret of each image of x (N, C, H, W): bound after ``steps`` Adam steps (learning rate
    ``lr``, ``samples`` z draws per step) on that image's own copy of the encoder, minus the bound before;
    both bounds with ``eval_samples`` draws of the same noise. (N,) float64 nats; higher = the encoder fits the
    input worse = more anomalous. ``bound``: 'elbo' or 'iwae' (IWAE_k with k = ``eval_samples``).
    ``progress(n)`` gets the number of images finished after each batch."""
    if not model.has_density or not model.is_stochastic:
        raise ConfigError("likelihood regret needs a VAE (an autoencoder has no bound to improve)")
    if model.is_conditional:
        raise ConfigError("likelihood regret is defined here for unconditional models (this one is conditional)")
    if bound not in BOUNDS:
        raise ConfigError(f"unknown bound {bound!r}: expected one of {', '.join(BOUNDS)}")
    if steps < 0 or samples < 1 or eval_samples < 1 or batch_size < 1 or not lr > 0:
        raise ConfigError(f"regret needs steps >= 0, samples, eval_samples and batch_size >= 1 and lr > 0 (got "
                          f"steps {steps}, samples {samples}, eval_samples {eval_samples}, batch_size {batch_size}, "
                          f"lr {lr})")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if device.type == "cpu":
        from vaelab.utils.allocator import keep_freed_memory

        keep_freed_memory()  # each step's gradients reuse the last step's memory instead of faulting in new pages
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        prior = model.prior_distribution()  # theta: fixed, even where it is made of the encoder (VampPrior)
    f = _Bound(model, prior, iwae=bound == "iwae")
    phi = {f"model.{name}": p.detach() for name, p in encoder_parameters(model).items()}  # f's names
    out = torch.empty(x.shape[0], dtype=torch.float64)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size].to(device)  # (B, C, H, W)
        out[start:start + xb.shape[0]] = _regret_batch(model, f, phi, xb, steps, lr, samples, eval_samples, gen)
        if progress is not None:
            progress(start + xb.shape[0])
    model.train(was_training)
    return out


def _regret_batch(model: nn.Module, f: _Bound, phi: dict[str, torch.Tensor], x: torch.Tensor, steps: int,
                  lr: float, samples: int, eval_samples: int, gen: torch.Generator) -> torch.Tensor:
    """Regret (B,) of one batch: B copies of phi fine-tuned in parallel, one per image."""
    from torch.func import functional_call, grad, vmap

    b = x.shape[0]
    eval_eps = model.noise(eval_samples, b, gen, x.device)  # (S, B, noise): the same before and after

    def one_bound(params: dict[str, torch.Tensor], xi: torch.Tensor, ei: torch.Tensor) -> torch.Tensor:
        # xi (C, H, W), ei (S, noise): one image with its own encoder parameters
        return functional_call(f, params, (xi[None], ei[:, None]))[0]

    def one_loss(params: dict[str, torch.Tensor], xi: torch.Tensor, ei: torch.Tensor) -> torch.Tensor:
        return -one_bound(params, xi, ei)

    batched_grad = vmap(grad(one_loss), in_dims=(0, 0, 1))
    batched_bound = vmap(one_bound, in_dims=(0, 0, 1))
    with torch.no_grad():  # with the trained encoder, by the same (vmapped) computation as after
        before = batched_bound({name: p.expand(b, *p.shape) for name, p in phi.items()}, x, eval_eps).double()
    params = {name: p.expand(b, *p.shape).clone() for name, p in phi.items()}  # (B, ...) one copy per image
    m = {name: torch.zeros_like(p) for name, p in params.items()}
    v = {name: torch.zeros_like(p) for name, p in params.items()}
    beta1, beta2, adam_eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):  # Adam, elementwise: each copy follows its own image's gradient
        eps = model.noise(samples, b, gen, x.device)  # (samples, B, noise)
        grads = batched_grad(params, x, eps)
        with torch.no_grad():
            c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
            for name, g in grads.items():
                m[name].mul_(beta1).add_(g, alpha=1 - beta1)
                v[name].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                params[name].addcdiv_(m[name] / c1, (v[name] / c2).sqrt_().add_(adam_eps), value=-lr)
    with torch.no_grad():
        after = batched_bound(params, x, eval_eps).double()  # (B,)
    return (after - before).cpu()
