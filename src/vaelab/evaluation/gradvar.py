"""Variance and signal-to-noise ratio of ELBO gradient estimators at a model's current parameters.

For a fixed minibatch, draws the gradient of the ELBO surrogate N times per estimator (same number of
z samples each) and reports, per parameter group, the summed per-parameter variance (the trace of the
gradient's covariance) and the SNR |E g| / std(g) averaged over parameters (Rainforth et al. 2018).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from vaelab.models.config import ESTIMATORS
from vaelab.models.objectives import Objective


def gradient_moments(model, x: torch.Tensor, estimator: str, draws: int, samples: int = 1,
                     use_baseline: bool = True, seed: int = 0,
                     on_draw: Callable[[], None] | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per group: (mean, variance) over ``draws`` gradient draws of the negative-ELBO surrogate, flat (P,)."""
    groups = model.parameter_groups()
    objective = Objective("elbo", estimator, samples=samples, use_baseline=use_baseline)
    torch.manual_seed(seed)
    if estimator == "score-function" and use_baseline:  # warm the running-mean baseline before measuring
        with torch.no_grad():
            for _ in range(10):
                objective(model, x)
    sums = {g: torch.zeros(sum(p.numel() for p in ps), dtype=torch.float64) for g, ps in groups.items()}
    sqs = {g: torch.zeros_like(v) for g, v in sums.items()}
    for _ in range(draws):
        model.zero_grad(set_to_none=True)
        objective(model, x).loss.backward()
        for g, ps in groups.items():
            flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in ps])
            flat = flat.double().cpu()
            sums[g] += flat
            sqs[g] += flat * flat
        if on_draw is not None:
            on_draw()
    model.zero_grad(set_to_none=True)
    out = {}
    for g in groups:
        mean = sums[g] / draws
        var = (sqs[g] / draws - mean * mean).clamp_min(0) * draws / max(draws - 1, 1)
        out[g] = (mean, var)
    return out


def gradient_variance_table(model, x: torch.Tensor, draws: int = 100, samples: int = 1,
                            estimators: tuple[str, ...] = ESTIMATORS, use_baseline: bool = True, seed: int = 0,
                            on_draw: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """One row per (estimator, group, and 'total'): variance trace, mean/median SNR, norm of the mean."""
    rows = []
    for est in estimators:
        moments = gradient_moments(model, x, est, draws, samples, use_baseline, seed, on_draw)
        moments["total"] = (torch.cat([m for m, _ in moments.values()]), torch.cat([v for _, v in moments.values()]))
        for group, (mean, var) in moments.items():
            std = var.sqrt()
            live = std > 0
            snr = mean[live].abs() / std[live]
            rows.append({"estimator": est, "group": group, "parameters": int(mean.numel()),
                         "variance": float(var.sum()), "mean_norm": float(mean.norm()),
                         "snr_mean": float(snr.mean()) if live.any() else math.inf,
                         "snr_median": float(snr.median()) if live.any() else math.inf,
                         "draws": draws, "samples": samples})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """Markdown table of gradient_variance_table rows."""
    lines = ["| estimator | group | parameters | variance (trace) | SNR mean | SNR median | mean grad norm |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['estimator']} | {r['group']} | {r['parameters']} | {r['variance']:.4g} | "
                     f"{r['snr_mean']:.3g} | {r['snr_median']:.3g} | {r['mean_norm']:.4g} |")
    return "\n".join(lines)
