"""Mean ELBO (and its terms) over a whole split, batched, under inference mode."""

from __future__ import annotations

import math

import torch


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000, samples: int = 1,
             seed: int = 0) -> dict[str, float]:
    """Mean and standard error over the examples of x (N, C, H, W) of each per-example metric.

    For a VAE: ``elbo``, ``reconstruction`` (E_q log p(x|z)) and ``kl`` in nats per example; for the
    autoencoder: ``reconstruction`` (log p(x|z=f(x))). A fixed ``seed`` makes the estimate repeatable.
    """
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    sums: dict[str, torch.Tensor] = {}
    sq: dict[str, torch.Tensor] = {}
    for start in range(0, x.shape[0], batch_size):
        out = model(x[start:start + batch_size], samples=samples, generator=gen)
        for name, value in out.metrics().items():
            value = value.double()
            sums[name] = sums.get(name, 0) + value.sum()
            sq[name] = sq.get(name, 0) + (value * value).sum()
    model.train(was_training)
    n = x.shape[0]
    result: dict[str, float] = {"n": n}
    for name in sums:
        mean = float(sums[name]) / n
        var = max(float(sq[name]) / n - mean * mean, 0.0)
        result[name] = mean
        result[f"{name}_stderr"] = math.sqrt(var / max(n - 1, 1)) if n > 1 else float("nan")
    return result
