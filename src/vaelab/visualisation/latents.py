"""Latent map: the posterior means E[z|x] of a split, in 2-D (as is, PCA or t-SNE), coloured by label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab.runs.run import Run
from vaelab.utils.latent_plane import (LatentMap, class_colours, class_name, colour_table, latent_map_of,
                                      point_colours, project)
from vaelab.visualisation.canvas import figure_png, new_figure, save_bytes
from vaelab.visualisation.common import as_run, default_path, pick, posterior_means, run_dataset, split_of

__all__ = ["LatentMap", "class_colours", "class_name", "colour_table", "point_colours", "project", "latent_map",
           "latent_map_figure", "save_latents"]


def latent_map(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None,
               class_names: list[str] | None = None, method: str = "auto", seed: int = 0) -> LatentMap:
    """The 2-D map of the posterior means of x (N, C, H, W), with labels (N,) if there are any (a conditional
    model encodes each example with its label)."""
    mu = posterior_means(model, x, y=labels if model.is_conditional else None).double().numpy()  # (N, D)
    return latent_map_of(mu, None if labels is None else labels.cpu().numpy(), class_names, method, seed)


def latent_map_figure(lmap: LatentMap, title: str | None = None, seed: int = 0) -> Any:
    """A matplotlib figure: one scatter (points in a seeded random order, so no class hides another) and a
    legend naming each class, or a note that there are no labels."""
    from matplotlib.lines import Line2D

    fig = new_figure(7.5, 6.2)
    ax = fig.add_subplot(1, 1, 1)
    n = lmap.coords.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    colours = point_colours(lmap)
    size = 10 if n <= 2000 else 5
    ax.scatter(lmap.coords[order, 0], lmap.coords[order, 1], c=colours[order], s=size, linewidths=0, alpha=1.0)
    what = {"z": "posterior means", "PCA": "posterior means, PCA to 2-D", "t-SNE": "posterior means, t-SNE to 2-D"}
    head = title or f"{n} examples: {what[lmap.method]} ({lmap.latent_dim}-D latent)"
    if lmap.labels is None:
        head += "\nno labels: one colour for all points"
    else:
        classes = np.unique(lmap.labels)
        table = colour_table(lmap)
        handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=table[c],
                          markeredgewidth=0, label=class_name(lmap, int(c))) for c in classes]
        ax.legend(handles=handles, title="class", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                  ncol=1 if len(classes) <= 20 else 2)
    ax.set_title(head, fontsize=10)
    ax.set_xlabel(lmap.axis_labels[0])
    ax.set_ylabel(lmap.axis_labels[1])
    ax.grid(alpha=0.2)
    return fig


def save_latents(run: Run | str | Path, out: str | Path | None = None, split: str = "test", tsne: bool = False,
                 limit: int | None = 5000, seed: int = 0) -> Path:
    """Write the latent map of a run's ``split`` (default RUN/latents.png), at most ``limit`` seeded random
    examples (t-SNE is slow: a few thousand points take about a minute)."""
    run = as_run(run)
    data = run_dataset(run)
    x, labels = split_of(data, split)
    if limit is not None and limit < x.shape[0]:
        idx = pick(x.shape[0], limit, seed)
        x, labels = x[idx], (None if labels is None else labels[idx])
    lmap = latent_map(run.model, x, labels, data.class_names, "tsne" if tsne else "auto", seed)
    what = {"z": "posterior means", "PCA": "posterior means, PCA to 2-D", "t-SNE": "posterior means, t-SNE to 2-D"}
    title = f"{x.shape[0]} {split} examples of {data.name}: {what[lmap.method]} ({lmap.latent_dim}-D latent)"
    fig = latent_map_figure(lmap, title, seed)
    return save_bytes(figure_png(fig), default_path(run, "latents-tsne.png" if tsne else "latents.png", out))
