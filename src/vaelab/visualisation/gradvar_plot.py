"""The gradient-variance figure of `vaelab gradvar`: variance per parameter group and estimator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaelab.visualisation.canvas import figure_png, new_figure, save_bytes


def plot_rows(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Bar plot of the variance per group and estimator (log scale), written atomically as PNG."""
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
    return save_bytes(figure_png(fig), path)
