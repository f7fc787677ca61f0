"""Interpolation in latent space: decode the path between the posterior means of two inputs (strip + GIF).

Linear: z(t) = (1 - t) z0 + t z1. Spherical (``slerp``): along the great circle between z0 and z1 with the
norm interpolated linearly, which keeps the path at the typical radius of N(0, I) samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vaelab.errors import ConfigError, DataError
from vaelab.runs.data import condition_labels
from vaelab.runs.run import Run
from vaelab.visualisation.canvas import gif_bytes, png_bytes, save_bytes, with_title
from vaelab.visualisation.common import as_run, model_device, posterior_means, require_density
from vaelab.visualisation.grid import image_grid


def lerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` points (steps, D) evenly spaced on the segment from z0 (D,) to z1 (D,), ends included."""
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]  # (steps, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` points (steps, D) from z0 to z1: direction along the great circle, norm linear; ends included.

    Falls back to ``lerp`` for (anti)parallel or zero vectors, where the great circle is not defined."""
    n0, n1 = z0.norm(), z1.norm()
    if float(n0) < 1e-8 or float(n1) < 1e-8:
        return lerp(z0, z1, steps)
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos((u0 @ u1).clamp(-1, 1))
    if float(omega) < 1e-6 or float(torch.pi - omega) < 1e-6:
        return lerp(z0, z1, steps)
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]  # (steps, 1)
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * n0 + t * n1)


@dataclass
class Interpolation:
    """The latent path and its decoded images."""

    z: torch.Tensor  # (steps, D)
    images: torch.Tensor  # (steps, C, H, W) decoder means
    method: str  # "linear" or "spherical"


@torch.no_grad()
def interpolate(model: torch.nn.Module, x0: torch.Tensor, x1: torch.Tensor, steps: int = 10,
                spherical: bool = False, labels: tuple[int, int] | None = None) -> Interpolation:
    """Decode ``steps`` points between the posterior means of images x0 and x1 (each (C, H, W)). A conditional
    model encodes each end with its own label (``labels``) and decodes the path in the first one's class."""
    if steps < 2:
        raise ConfigError(f"steps must be >= 2 (the two ends), got {steps}")
    if model.is_conditional and labels is None:
        raise ConfigError("interpolation in a conditional model needs the two ends' labels: use test-split indices")
    y = None if labels is None else torch.tensor(labels)
    mu = posterior_means(model, torch.stack([x0, x1]), y=y)  # (2, D)
    z = (slerp if spherical else lerp)(mu[0], mu[1], steps)  # (steps, D)
    images = model.decode(z.to(model_device(model)), None if y is None else int(y[0])).cpu()  # (steps, C, H, W)
    return Interpolation(z=z, images=images, method="spherical" if spherical else "linear")


def strip_figure(x0: torch.Tensor, x1: torch.Tensor, path: Interpolation, title: str) -> Image.Image:
    """One row: the input x0, the decoded path, the input x1 (the inputs framed by a gap)."""
    c, h, w = x0.shape
    gap = torch.ones(1, c, h, w)  # a white cell between the inputs and the decoded path
    row = torch.cat([x0[None], gap, path.images, gap, x1[None]])
    return with_title(image_grid(row, nrow=row.shape[0]), title)


def gif_frames(path: Interpolation, min_size: int = 112) -> list[np.ndarray]:
    """The decoded images as uint8 frames, enlarged (nearest neighbour) to at least ``min_size`` pixels."""
    return [image_grid(img[None], nrow=1, padding=0, min_cell=min_size) for img in path.images]


def interpolation_title(path: Interpolation, name0: str, name1: str) -> str:
    kind = "spherical (slerp)" if path.method == "spherical" else "linear"
    return (f"{kind} interpolation of z in {path.images.shape[0]} steps between the posterior means of "
            f"{name0} (left) and {name1} (right); inputs at the ends, decoder means between")


def resolve_endpoint(value: str, test: torch.Tensor | None, image_shape: tuple[int, int, int],
                     likelihood: str) -> tuple[torch.Tensor, str]:
    """An endpoint given as a test-split index or an image file: the image (C, H, W) and its name."""
    from vaelab.data.inputs import fit_inputs, load_inputs

    if value.lstrip("-").isdigit():
        if test is None:
            raise ConfigError("internal: no test split given")
        i = int(value)
        if not 0 <= i < test.shape[0]:
            raise ConfigError(f"test example {i} does not exist (expected an index 0..{test.shape[0] - 1} "
                              "or an image file)")
        return test[i], f"test #{i}"
    inputs = load_inputs(value)
    if len(inputs) != 1:
        raise DataError(f"{value}: {len(inputs)} images (expected one image, or a test-split index)")
    x = fit_inputs(inputs, image_shape, likelihood)
    return x[0], Path(value).name


def save_interpolation(run: Run | str | Path, start: int | str, end: int | str, steps: int = 10,
                       spherical: bool = False, out_dir: str | Path | None = None,
                       stem: str | None = None) -> dict[str, Path]:
    """Write the strip (PNG) and animation (GIF) of the path between two test examples or image files.

    ``start``/``end``: test-split indices or image paths. Files: OUT_DIR/STEM.png and .gif (default RUN/
    interpolation-I-J). Returns {"strip": path, "gif": path}.
    """
    run = as_run(run)
    require_density(run, "interpolation")
    start, end = str(start), str(end)
    test = labels = None
    if start.lstrip("-").isdigit() or end.lstrip("-").isdigit():
        from vaelab.visualisation.common import run_dataset

        data = run_dataset(run)
        test, labels = data.test, condition_labels(run.model, data, "test")
    shape, lik = run.model_config.image_shape, run.model_config.likelihood
    x0, name0 = resolve_endpoint(start, test, shape, lik)
    x1, name1 = resolve_endpoint(end, test, shape, lik)
    ends = None
    if labels is not None and start.lstrip("-").isdigit() and end.lstrip("-").isdigit():
        ends = (int(labels[int(start)]), int(labels[int(end)]))
    path = interpolate(run.model, x0, x1, steps, spherical, ends)
    out_dir = Path(out_dir) if out_dir is not None else Path(run.run_dir)
    stem = stem or f"interpolation-{Path(start).stem}-{Path(end).stem}{'-slerp' if spherical else ''}"
    strip = strip_figure(x0, x1, path, interpolation_title(path, name0, name1))
    return {"strip": save_bytes(png_bytes(strip), out_dir / f"{stem}.png"),
            "gif": save_bytes(gif_bytes(gif_frames(path)), out_dir / f"{stem}.gif")}
