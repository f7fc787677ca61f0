"""The gradient-variance figures of `vaelab gradvar`: variance per parameter group and estimator, and the IWAE
gradient's SNR against k. ``variance_figure`` and ``snr_figure`` return the matplotlib figure (to show in a
notebook); ``plot_rows`` and ``plot_snr`` write it as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaelab.visualisation.canvas import figure_png, new_figure, save_bytes


def plot_rows(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """``variance_figure(rows)`` written atomically as PNG; returns the path."""
    return save_bytes(figure_png(variance_figure(rows)), path)


def variance_figure(rows: list[dict[str, Any]]) -> Any:
    """Bar plot of the gradient variance per group and estimator (log scale), from ``gradient_variance_table``'s
    rows: a matplotlib Figure."""
    estimators = list(dict.fromkeys(r["estimator"] for r in rows))
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fig = new_figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(estimators)
    for i, est in enumerate(estimators):
        vals = [next(r["variance"] for r in rows if r["estimator"] == est and r["group"] == g) for g in groups]
        ax.bar([j + i * width for j in range(len(groups))], vals, width, label=est)
    ax.set_xticks([j + width * (len(estimators) - 1) / 2 for j in range(len(groups))], groups)
    ax.set_yscale("log")
    ax.set_ylabel("gradient variance (sum over parameters)")
    ax.set_title(f"ELBO gradient variance, {rows[0]['draws']} draws, L={rows[0]['samples']}")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_snr(rows: list[dict[str, Any]], slopes: dict[str, dict[str, float]], path: str | Path) -> Path:
    """``snr_figure(rows, slopes)`` written atomically as PNG; returns the path."""
    return save_bytes(figure_png(snr_figure(rows, slopes)), path)


def snr_figure(rows: list[dict[str, Any]], slopes: dict[str, dict[str, float]]) -> Any:
    """Log-log plot of the median gradient SNR against k, one line per estimator and parameter group, with the
    1/sqrt(N) floor of N draws, from ``snr_against_k``'s rows and ``snr_slopes``: a matplotlib Figure."""
    fig = new_figure(7.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    styles = {"encoder": "-", "decoder": "--"}
    for i, est in enumerate(dict.fromkeys(r["estimator"] for r in rows)):
        for group, style in styles.items():
            pts = sorted((r["k"], r["snr_median"]) for r in rows if r["estimator"] == est and r["group"] == group)
            if not pts:
                continue
            slope = slopes.get(est, {}).get(group, float("nan"))
            ax.plot([k for k, _ in pts], [s for _, s in pts], style, marker="o", color=f"C{i}",
                    label=f"{est}, {group} (slope {slope:+.2f})")
    floor = rows[0]["snr_floor"]
    ax.axhline(floor, color="0.5", ls=":", label=f"1/sqrt(N), N = {rows[0]['draws']} draws")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("k (importance samples)")
    ax.set_ylabel("median SNR |E g| / std(g) over parameters")
    ax.set_title("IWAE gradient signal-to-noise against k")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
