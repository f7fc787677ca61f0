"""The 2-D plane of a latent map: posterior means projected (as is, PCA or t-SNE), with a colour per class.

Numbers only (numpy, scikit-learn, a matplotlib colour map): the visualisations draw it and the explorer
page serves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaelab.errors import ConfigError

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


def latent_map_of(mu: np.ndarray, labels: np.ndarray | None = None, class_names: list[str] | None = None,
                  method: str = "auto", seed: int = 0) -> LatentMap:
    """The 2-D map of posterior means ``mu`` (N, D), with labels (N,) if there are any."""
    coords, used, axes = project(mu, method, seed)
    lab = None if labels is None else np.asarray(labels).astype(np.int64)
    return LatentMap(coords=coords, labels=lab, class_names=class_names, method=used, axis_labels=axes,
                     latent_dim=mu.shape[1])
