"""Variance and signal-to-noise ratio of gradient estimators at a model's current parameters.

For a fixed minibatch, draws the gradient of the objective's surrogate N times per estimator (same number of
z samples each) and reports, per parameter group, the summed per-parameter variance (the trace of the
gradient's covariance) and the SNR |E g| / std(g) per parameter, its mean and median over the group
(Rainforth et al. 2018). ``snr_against_k`` does so for the IWAE bound at several k and fits the slope of
log SNR against log k: about -1/2 for the pathwise encoder gradient, not negative for DReG (Tucker et al. 2019).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from vaelab.errors import ConfigError
from vaelab.models.config import ELBO_ESTIMATORS
from vaelab.models.objectives import Objective


def gradient_moments(model, x: torch.Tensor, estimator: str, draws: int, samples: int = 1,
                     use_baseline: bool = True, seed: int = 0, on_draw: Callable[[], None] | None = None,
                     y: torch.Tensor | None = None,
                     objective_name: str = "elbo") -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per group: (mean, variance) over ``draws`` gradient draws of the objective's surrogate loss, flat (P,);
    ``samples`` is L for the ELBO and k for IWAE."""
    groups = model.parameter_groups()
    objective = Objective(objective_name, estimator, samples=samples, use_baseline=use_baseline)
    torch.manual_seed(seed)
    if estimator == "score-function" and use_baseline:  # warm the running-mean baseline before measuring
        with torch.no_grad():
            for _ in range(10):
                objective(model, x, y=y)
    sums = {g: torch.zeros(sum(p.numel() for p in ps), dtype=torch.float64) for g, ps in groups.items()}
    sqs = {g: torch.zeros_like(v) for g, v in sums.items()}
    for _ in range(draws):
        model.zero_grad(set_to_none=True)
        objective(model, x, y=y).loss.backward()
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
                            estimators: tuple[str, ...] = ELBO_ESTIMATORS, use_baseline: bool = True, seed: int = 0,
                            on_draw: Callable[[], None] | None = None, y: torch.Tensor | None = None,
                            skipped: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per (estimator, group, and 'total'): variance trace, mean/median SNR, norm of the mean.

    With ``skipped`` (a dict), an estimator the model cannot use (e.g. score-function without a closed-form
    KL) is left out and its reason recorded there; without it, that is an error."""
    rows = []
    for est in estimators:
        try:
            moments = gradient_moments(model, x, est, draws, samples, use_baseline, seed, on_draw, y)
        except ConfigError as exc:
            if skipped is None:
                raise
            skipped[est] = str(exc)
            continue
        rows += snr_rows(moments, estimator=est, draws=draws, samples=samples)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """Markdown table of gradient_variance_table rows."""
    lines = ["| estimator | group | parameters | variance (trace) | SNR mean | SNR median | mean grad norm |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['estimator']} | {r['group']} | {r['parameters']} | {r['variance']:.4g} | "
                     f"{r['snr_mean']:.3g} | {r['snr_median']:.3g} | {r['mean_norm']:.4g} |")
    return "\n".join(lines)


def snr_rows(moments: dict[str, tuple[torch.Tensor, torch.Tensor]], **fields: Any) -> list[dict[str, Any]]:
    """One row per group (and 'total') of gradient moments: variance trace, SNR mean/median, mean norm."""
    moments = dict(moments)
    moments["total"] = (torch.cat([m for m, _ in moments.values()]), torch.cat([v for _, v in moments.values()]))
    rows = []
    for group, (mean, var) in moments.items():
        std = var.sqrt()
        live = std > 0
        snr = mean[live].abs() / std[live]
        rows.append({**fields, "group": group, "parameters": int(mean.numel()), "variance": float(var.sum()),
                     "mean_norm": float(mean.norm()),
                     "snr_mean": float(snr.mean()) if live.any() else math.inf,
                     "snr_median": float(snr.median()) if live.any() else math.inf})
    return rows


def snr_against_k(model, x: torch.Tensor, ks: tuple[int, ...], estimators: tuple[str, ...] = ("pathwise", "dreg"),
                  draws: int = 1000, seed: int = 0, y: torch.Tensor | None = None,
                  on_draw: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Rows (estimator, k, group): the IWAE_k gradient's variance and SNR, ``draws`` draws each. With N draws
    an SNR estimate cannot go much below the floor 1/sqrt(N) (the noise of the estimated mean itself)."""
    rows = []
    for est in estimators:
        for k in ks:
            moments = gradient_moments(model, x, est, draws, k, seed=seed, on_draw=on_draw, y=y, objective_name="iwae")
            rows += snr_rows(moments, estimator=est, k=int(k), draws=draws, snr_floor=1 / math.sqrt(draws))
    return rows


def snr_slopes(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Least-squares slope of log(median SNR) against log k, per estimator and parameter group."""
    out: dict[str, dict[str, float]] = {}
    for est in dict.fromkeys(r["estimator"] for r in rows):
        for group in dict.fromkeys(r["group"] for r in rows):
            pts = [(math.log(r["k"]), math.log(r["snr_median"])) for r in rows
                   if r["estimator"] == est and r["group"] == group and 0 < r["snr_median"] < math.inf]
            if len(pts) >= 2:
                mx = sum(a for a, _ in pts) / len(pts)
                my = sum(b for _, b in pts) / len(pts)
                sxx = sum((a - mx) ** 2 for a, _ in pts)
                out.setdefault(est, {})[group] = sum((a - mx) * (b - my) for a, b in pts) / sxx if sxx else math.nan
    return out


def format_snr_rows(rows: list[dict[str, Any]], slopes: dict[str, dict[str, float]]) -> str:
    """Markdown: the SNR table against k, then the fitted slopes."""
    lines = ["| estimator | k | group | SNR median | SNR mean | variance (trace) | floor 1/sqrt(N) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['estimator']} | {r['k']} | {r['group']} | {r['snr_median']:.4g} | {r['snr_mean']:.4g} | "
                     f"{r['variance']:.4g} | {r['snr_floor']:.3g} |")
    lines += ["", "| estimator | group | slope of log SNR (median) against log k |", "|---|---|---|"]
    for est, groups in slopes.items():
        for group, slope in groups.items():
            lines.append(f"| {est} | {group} | {slope:+.3f} |")
    return "\n".join(lines)
