"""Whole-split passes of a model, batched under inference mode: the mean ELBO terms and the posterior means."""

from __future__ import annotations

import math

import torch

from vaelab.utils.distributed import Distributed


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000, samples: int = 1,
             seed: int = 0, dist: Distributed | None = None, y: torch.Tensor | None = None) -> dict[str, float]:
    """Mean and standard error over the examples of x (N, C, H, W) of each per-example metric.

    For a model with a density: ``elbo``, ``reconstruction`` (E_q log p(x|z)) and ``kl`` in nats per example;
    for the autoencoder: ``reconstruction`` (log p(x|z=f(x))). A fixed ``seed`` makes the estimate repeatable. With
    ``dist``, each rank takes its slice of every batch (and of the same noise) and the sums are all-reduced,
    so the result equals a single process's.
    """
    dist = dist or Distributed()
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    prior = model.prior_distribution() if model.has_density else None  # once: a VampPrior's K components, too
    names: list[str] = []
    acc: torch.Tensor | None = None  # rows: sum, sum of squares; one column per metric
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size].to(device)  # (b, C, H, W); a streamed split is read here
        eps = model.noise(samples, xb.shape[0], gen, device)  # (L, b, noise) for the whole batch, or None
        if eps is not None:  # this rank's slice of it
            eps = dist.shard(eps, dim=1)
        yb = None if y is None else dist.shard(y[start:start + batch_size].to(device))
        xb = dist.shard(xb)
        if xb.shape[0] == 0:
            continue
        metrics = model(xb, samples=samples, eps=eps, y=yb, prior=prior).metrics()
        names = list(metrics)
        values = torch.stack([v.double() for v in metrics.values()])  # (M, b)
        batch = torch.stack([values.sum(1), (values * values).sum(1)])  # (2, M)
        acc = batch if acc is None else acc + batch
    model.train(was_training)
    if not names:  # a rank with no examples still joins the reduction with zeros of the right size
        probe = model(x[:1].to(device), samples=samples, y=None if y is None else y[:1].to(device)).metrics()
        names, acc = list(probe), torch.zeros(2, len(probe), dtype=torch.float64, device=device)
    dist.all_reduce_sum(acc)
    n = x.shape[0]
    result: dict[str, float] = {"n": n}
    for j, name in enumerate(names):
        mean = float(acc[0, j]) / n
        var = max(float(acc[1, j]) / n - mean * mean, 0.0)
        result[name] = mean
        result[f"{name}_stderr"] = math.sqrt(var / max(n - 1, 1)) if n > 1 else float("nan")
    return result


@torch.no_grad()
def posterior_means(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000,
                    y: torch.Tensor | None = None) -> torch.Tensor:
    """E_q[z|x] for each image of x (N, C, H, W) (given its label y for a conditional model): (N, D) on the CPU
    (Monte Carlo where q has no closed-form mean, e.g. a flow)."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(0)
    out = torch.cat([model.latent_mean(x[i:i + batch_size].to(dev), generator=gen,
                                       y=None if y is None else y[i:i + batch_size].to(dev)).float().cpu()
                     for i in range(0, x.shape[0], batch_size)])
    model.train(was_training)
    return out
