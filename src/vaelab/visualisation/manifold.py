"""The learned data manifold (Kingma & Welling 2014, Fig. 4): decode a grid of latent points.

Linearly spaced coordinates on the unit square (the quantiles (i + 1/2) / n, i = 0..n-1) go through the
inverse CDF of the standard normal, so every cell covers the same prior mass. For D > 2 the grid spans the
two most active latent dimensions (largest variance of E[z|x] over the data, Burda et al. 2016) and the
other dimensions are held at 0, the prior mean.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from vaelab.errors import ConfigError
from vaelab.runs.data import condition_labels
from vaelab.runs.run import Run
from vaelab.visualisation.canvas import save_png, with_title
from vaelab.visualisation.common import (as_run, default_path, model_device, pick, posterior_means, require_density,
                                          run_dataset)
from vaelab.visualisation.grid import image_grid


def grid_quantiles(n: int) -> torch.Tensor:
    """n evenly spaced quantiles (i + 0.5) / n, i = 0..n-1, in float64."""
    if n < 1:
        raise ConfigError(f"grid size must be >= 1, got {n}")
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n


def grid_coordinates(n: int) -> torch.Tensor:
    """The inverse standard-normal CDF of ``grid_quantiles(n)``: (n,) increasing latent coordinates."""
    return torch.special.ndtri(grid_quantiles(n))


def latent_activity(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """Per latent dimension, the variance over x (N, C, H, W) of the posterior mean E[z_d|x]: (D,)."""
    mu = posterior_means(model, x, y=y)  # (N, D)
    return mu.double().var(dim=0, unbiased=x.shape[0] > 1)


def manifold_latents(n: int, latent_dim: int, dims: tuple[int, int] | tuple[int]) -> torch.Tensor:
    """Grid points (n*n, D) in row-major order: column j varies z[dims[0]] (left to right, increasing), row i
    varies z[dims[1]] (top row highest); other dimensions 0. With one dimension: (n, D), one row."""
    coords = grid_coordinates(n).float()
    if len(dims) == 1:
        z = torch.zeros(n, latent_dim)
        z[:, dims[0]] = coords
        return z
    z = torch.zeros(n, n, latent_dim)
    z[:, :, dims[0]] = coords[None, :]  # columns
    z[:, :, dims[1]] = coords.flip(0)[:, None]  # rows, top = largest
    return z.reshape(n * n, latent_dim)


def choose_dims(latent_dim: int, activity: torch.Tensor | None) -> tuple[int, ...]:
    """(0, 1) for D = 2, (0,) for D = 1; else the two most active dimensions, most active first."""
    if latent_dim <= 2:
        return tuple(range(latent_dim))
    if activity is None:
        raise ConfigError(f"a {latent_dim}-D latent needs data to find its two most active dimensions")
    top = torch.argsort(activity, descending=True)[:2]
    return int(top[0]), int(top[1])


def manifold_title(n: int, latent_dim: int, dims: tuple[int, ...], activity: torch.Tensor | None) -> str:
    span = f"z = inverse normal CDF of the quantiles (i + 1/2)/{n} ({float(grid_coordinates(n)[0]):.2f} .. " \
           f"{float(grid_coordinates(n)[-1]):.2f})"
    if latent_dim == 1:
        return f"1-D latent manifold, decoder means of {n} points: {span}"
    a, b = dims
    head = f"{latent_dim}-D latent: z{a} left to right, z{b} bottom to top"
    if latent_dim > 2:
        act = activity if activity is not None else torch.full((latent_dim,), float("nan"))
        head = (f"{latent_dim}-D latent, two most active dimensions: z{a} (activity {float(act[a]):.2f}) left to "
                f"right, z{b} (activity {float(act[b]):.2f}) bottom to top, other dimensions 0")
    return f"Learned manifold, {n}x{n} decoder means. {head}; {span}"


@torch.no_grad()
def manifold_figure(model: torch.nn.Module, grid: int = 20, x: torch.Tensor | None = None,
                    dims: tuple[int, ...] | None = None, y: torch.Tensor | None = None,
                    label: int | None = None) -> Image.Image:
    """The titled image of ``grid`` x ``grid`` decoded grid points; ``x`` (N, C, H, W) (with labels y for a
    conditional model) picks the most active dimensions when D > 2 (or pass ``dims``). A conditional model
    decodes the grid in class ``label`` (default 0)."""
    if len(model.latent_layers) > 1:
        raise ConfigError("the latent manifold is a grid over one layer's N(0, 1) quantiles; a model with two "
                          "stochastic layers has a conditional prior p(z1|z2), so use vaelab sample instead")
    d = model.latent_dim
    activity = latent_activity(model, x, y) if (d > 2 and x is not None) else None
    dims = tuple(dims) if dims is not None else choose_dims(d, activity)
    if len(dims) != min(d, 2) or len(set(dims)) != len(dims) or not all(0 <= i < d for i in dims):
        raise ConfigError(f"manifold dimensions {dims} must be {min(d, 2)} distinct indices in 0..{d - 1}")
    z = manifold_latents(grid, d, dims)  # (grid*grid, D)
    label = (0 if label is None else int(label)) if model.is_conditional else None
    images = model.decode(z.to(model_device(model)), label).cpu()  # (grid*grid, C, H, W)
    title = manifold_title(grid, d, dims, activity) + ("" if label is None else f"; class {label}")
    return with_title(image_grid(images, nrow=grid, padding=1, min_cell=28), title)


def save_manifold(run: Run | str | Path, out: str | Path | None = None, grid: int = 20,
                  dims: tuple[int, int] | None = None, limit: int = 2000, label: int | None = None) -> Path:
    """Write the manifold of a run (default RUN/manifold.png); for D > 2 the activity is measured on ``limit``
    seeded random test examples."""
    run = as_run(run)
    require_density(run, "the latent manifold")
    x = y = None
    if run.model.latent_dim > 2 and dims is None and len(run.model.latent_layers) == 1:
        data = run_dataset(run)
        idx = pick(data.test.shape[0], limit)
        x, y = data.test[idx], condition_labels(run.model, data, "test")
        y = None if y is None else y[idx]
    return save_png(manifold_figure(run.model, grid, x, dims, y, label), default_path(run, "manifold.png", out))
