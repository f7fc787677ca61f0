"""Training curves: train and valid ELBO per epoch with its two terms, E_q log p(x|z) and KL; runs overlaid."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vaelab.errors import VaelabError
from vaelab.runs.run import Run
from vaelab.visualisation.canvas import figure_png, new_figure, save_bytes
from vaelab.visualisation.common import as_run

PANELS = (("elbo", "ELBO (nats, higher is better)"),
          ("reconstruction", "reconstruction E_q log p(x|z) (nats)"),
          ("kl", "KL(q(z|x) || p(z)) (nats)"))


def run_label(run: Run) -> str:
    """A legend label: the run directory's name and its latent size."""
    return f"{Path(run.run_dir).name} (D={run.model_config.latent_dim})"


def series(run: Run, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(epochs, values) of metric ``key`` (e.g. 'valid_elbo') in the run's metrics.jsonl, or None if absent."""
    rows = [(r["epoch"], r[key]) for r in run.metrics if key in r and r[key] is not None]
    if not rows:
        return None
    e, v = zip(*rows)
    return np.asarray(e, dtype=float), np.asarray(v, dtype=float)


def _robust_ylim(values: list[np.ndarray]) -> tuple[float, float] | None:
    """Limits that keep the first epoch's (often far worse) value from squashing the rest of the curves."""
    tail = np.concatenate([v[1:] if v.size > 3 else v for v in values]) if values else np.array([])
    if tail.size == 0:
        return None
    lo, hi = float(tail.min()), float(tail.max())
    pad = 0.08 * (hi - lo) if hi > lo else max(1.0, abs(hi) * 0.05)
    return lo - pad, hi + pad


def curves_figure(runs: Sequence[Run], labels: Sequence[str] | None = None, robust: bool = True) -> Any:
    """One row of three panels (ELBO, reconstruction, KL); each run one colour, train dashed, valid solid.

    Every line gets the gid ``"<run index>:<split>_<metric>"`` (e.g. ``"0:valid_elbo"``) so tests and notebooks
    can find it."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    if not runs:
        raise VaelabError("no runs given (expected one or more run directories)")
    labels = list(labels) if labels is not None else [run_label(r) for r in runs]
    colours = colormaps["tab10"](np.arange(len(runs)) % 10)
    fig = new_figure(15, 4.6)
    axes = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    for ax, (metric, title) in zip(axes, PANELS):
        plotted = []
        for i, run in enumerate(runs):
            for split, style in (("train", "--"), ("valid", "-")):
                s = series(run, f"{split}_{metric}")
                if s is None:
                    continue
                line, = ax.plot(s[0], s[1], style, color=colours[i], lw=1.6, marker="." if s[0].size < 30 else None)
                line.set_gid(f"{i}:{split}_{metric}")
                plotted.append(s[1])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if not plotted:
            ax.text(0.5, 0.5, "not recorded\n(autoencoder runs have no ELBO or KL)", ha="center", va="center",
                    transform=ax.transAxes, color="0.4")
        elif robust:
            lim = _robust_ylim(plotted)
            if lim is not None:
                ax.set_ylim(*lim)
    handles = [Line2D([], [], color=colours[i], lw=2, label=lab) for i, lab in enumerate(labels)]
    handles += [Line2D([], [], color="0.3", ls="--", label="train"), Line2D([], [], color="0.3", ls="-", label="valid")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("Training curves: ELBO = reconstruction - KL per epoch, nats per example "
                 "(first epoch may lie outside the axes)" if robust else
                 "Training curves: ELBO = reconstruction - KL per epoch, nats per example", fontsize=11)
    fig.subplots_adjust(bottom=0.22, wspace=0.25)
    return fig


def default_curves_path(run_dirs: Sequence[Path]) -> Path:
    """RUN/curves.png for one run; for several, curves.png in their common parent folder, or where they share
    none but the filesystem's root, curves-compare.png in the first run's folder."""
    if len(run_dirs) == 1:
        return Path(run_dirs[0]) / "curves.png"
    common = Path(os.path.commonpath([str(Path(p).resolve()) for p in run_dirs]))
    if common == Path(common.anchor):
        return Path(run_dirs[0]) / "curves-compare.png"
    return common / "curves.png"


def save_curves(runs: Sequence[Run | str | Path], out: str | Path | None = None,
                labels: Sequence[str] | None = None) -> Path:
    """Write the curves of one or more runs as PNG; returns the path."""
    loaded = [as_run(r) for r in runs]
    for r in loaded:
        if not r.metrics:
            raise VaelabError(f"{r.run_dir}: no metrics.jsonl records "
                              "(expected a run with at least one finished epoch)")
    path = Path(out) if out is not None else default_curves_path([r.run_dir for r in loaded])
    return save_bytes(figure_png(curves_figure(loaded, labels)), path)
