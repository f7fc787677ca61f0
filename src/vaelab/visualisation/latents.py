"""Latent map: the posterior means E[z|x] of a split, in 2-D (as is, PCA or t-SNE), coloured by label."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab.errors import ConfigError
from vaelab.training.run import Run
from vaelab.visualisation.canvas import figure_png, new_figure, save_bytes
from vaelab.visualisation.common import as_run, default_path, pick, posterior_means, run_dataset, split_of

UNLABELLED_COLOUR = (0.12, 0.47, 0.71, 1.0)  # tab:blue


@dataclass
class LatentMap:
    """2-D coordinates of N posterior means, with their labels and how the 2-D view was made."""

    coords: np.ndarray  # (N, 2)
    labels: np.ndarray | None  # (N,) int
    class_names: list[str] | None
    method: str  # "z" (D <= 2), "PCA" or "t-SNE"
    axis_labels: tuple[str, str]
    latent_dim: int


def class_colours(n_classes: int) -> np.ndarray:
    """RGBA colours (n_classes, 4), one per class: tab10 up to 10 classes, tab20 up to 20, else hsv."""
    from matplotlib import colormaps

    if n_classes <= 10:
        return np.asarray(colormaps["tab10"](np.arange(n_classes)))
    if n_classes <= 20:
        return np.asarray(colormaps["tab20"](np.arange(n_classes)))
    return np.asarray(colormaps["hsv"](np.linspace(0, 1, n_classes, endpoint=False)))


def project(mu: np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str, tuple[str, str]]:
    """Posterior means (N, D) -> (N, 2) coordinates, the method used and axis labels.

    ``auto``: the means themselves for D = 2 (D = 1 gets a small seeded jitter as second axis), PCA for D > 2;
    ``pca`` / ``tsne`` force a method (t-SNE needs D >= 2)."""
    n, d = mu.shape
    if method not in ("auto", "pca", "tsne"):
        raise ConfigError(f"unknown projection {method!r}: expected auto, pca or tsne")
    if method == "tsne" and d >= 2:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(mu)
        return xy, "t-SNE", ("t-SNE 1", "t-SNE 2")
    if d == 1:
        jitter = np.random.default_rng(seed).uniform(-0.5, 0.5, n)
        return np.stack([mu[:, 0], jitter], 1), "z", ("z0", "jitter (no meaning)")
    if d == 2 and method != "pca":
        return mu.copy(), "z", ("z0", "z1")
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed).fit(mu)
    ratio = pca.explained_variance_ratio_
    return pca.transform(mu), "PCA", (f"PC1 ({100 * ratio[0]:.0f}% of variance)", f"PC2 ({100 * ratio[1]:.0f}%)")


def latent_map(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None,
               class_names: list[str] | None = None, method: str = "auto", seed: int = 0) -> LatentMap:
    """The 2-D map of the posterior means of x (N, C, H, W), with labels (N,) if there are any."""
    mu = posterior_means(model, x).double().numpy()  # (N, D)
    coords, used, axes = project(mu, method, seed)
    lab = None if labels is None else labels.cpu().numpy().astype(np.int64)
    return LatentMap(coords=coords, labels=lab, class_names=class_names, method=used, axis_labels=axes,
                     latent_dim=mu.shape[1])


def class_name(lmap: LatentMap, label: int) -> str:
    if lmap.class_names is not None and 0 <= label < len(lmap.class_names):
        return str(lmap.class_names[label])
    return str(label)


def colour_table(lmap: LatentMap) -> np.ndarray:
    """RGBA colour (K, 4) of each label value 0..K-1 (K: the number of class names, or the largest label + 1)."""
    k = len(lmap.class_names or [])
    if lmap.labels is not None and lmap.labels.size:
        k = max(k, int(lmap.labels.max()) + 1)
    return class_colours(max(k, 1))


def point_colours(lmap: LatentMap) -> np.ndarray:
    """RGBA colour (N, 4) of each point: the colour of its label, or one colour when there are no labels."""
    n = lmap.coords.shape[0]
    if lmap.labels is None:
        return np.tile(np.asarray(UNLABELLED_COLOUR), (n, 1))
    return colour_table(lmap)[lmap.labels]


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
