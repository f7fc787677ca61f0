"""Prior samples: z ~ N(0, t^2 I) fed to the decoder, shown as its mean E[x|z] or as one draw x ~ p(x|z)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from vaelab.runs.run import Run
from vaelab.visualisation.canvas import save_png, with_title
from vaelab.visualisation.common import as_run, default_path, model_device, require_density
from vaelab.visualisation.grid import image_grid


@torch.no_grad()
def prior_samples(model: torch.nn.Module, n: int = 64, temperature: float = 1.0, mean: bool = True,
                  seed: int = 0) -> torch.Tensor:
    """n decoded prior samples (n, C, H, W) on the CPU, from z ~ N(0, temperature^2 I) drawn with ``seed``."""
    if n < 1:
        raise ValueError(f"need at least one sample, got {n}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    gen = torch.Generator(device=model_device(model)).manual_seed(seed)
    return model.sample(n, temperature=temperature, mean=mean, generator=gen).cpu()


def samples_title(n: int, temperature: float, mean: bool) -> str:
    shown = "the decoder mean E[x|z]" if mean else "one draw x ~ p(x|z) per z"
    t = f"{temperature:g}"
    prior = "N(0, I)" if temperature == 1 else f"N(0, {t}^2 I) (temperature {t})"
    return f"{n} prior samples: z ~ {prior}, shown as {shown}"


def samples_figure(model: torch.nn.Module, n: int = 64, temperature: float = 1.0, mean: bool = True,
                   seed: int = 0, nrow: int | None = None) -> Image.Image:
    """A titled grid of ``prior_samples`` (``nrow`` images per row, default about square)."""
    images = prior_samples(model, n, temperature, mean, seed)  # (n, C, H, W)
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    return with_title(image_grid(images, nrow), samples_title(n, temperature, mean))


def save_samples(run: Run | str | Path, out: str | Path | None = None, n: int = 64, temperature: float = 1.0,
                 mean: bool = True, seed: int = 0, nrow: int | None = None) -> Path:
    """Write the samples grid of a run as PNG (default RUN/samples.png); returns the path."""
    run = as_run(run)
    require_density(run, "sampling")
    return save_png(samples_figure(run.model, n, temperature, mean, seed, nrow), default_path(run, "samples.png", out))
