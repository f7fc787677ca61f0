"""Prior samples: z ~ N(0, t^2 I) fed to the decoder, shown as its mean E[x|z] or as one draw x ~ p(x|z)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from vaelab.errors import ConfigError
from vaelab.runs.run import Run
from vaelab.visualisation.canvas import save_png, with_title
from vaelab.visualisation.common import as_run, default_path, model_device, require_density
from vaelab.visualisation.grid import image_grid


@torch.no_grad()
def prior_samples(model: torch.nn.Module, n: int = 64, temperature: float = 1.0, mean: bool = True,
                  seed: int = 0, label: int | None = None) -> torch.Tensor:
    """n decoded prior samples (n, C, H, W) on the CPU, from z ~ p(z) at ``temperature``, drawn with ``seed``.

    A conditional model draws class ``label``, or with no label the classes in turn (0, 1, ..., K-1, 0, ...)."""
    if n < 1:
        raise ValueError(f"need at least one sample, got {n}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    gen = torch.Generator(device=model_device(model)).manual_seed(seed)
    y = None
    if model.is_conditional:
        y = torch.arange(n) % model.n_classes if label is None else torch.full((n,), int(label))
    elif label is not None:
        raise ConfigError("--label draws one class of a conditional model (--condition label); this run is "
                          "not conditional")
    return model.sample(n, temperature=temperature, mean=mean, generator=gen, y=y).cpu()


def samples_title(n: int, temperature: float, mean: bool, label: str | None = None, prior: str = "N(0, I)") -> str:
    shown = "the decoder mean E[x|z]" if mean else "one draw x ~ p(x|z) per z"
    t = f"{temperature:g}"
    if prior == "N(0, I)":
        prior = prior if temperature == 1 else f"N(0, {t}^2 I) (temperature {t})"
    elif temperature != 1:
        prior = f"{prior} (temperature {t})"
    return f"{n} prior samples: z ~ {prior}{'' if label is None else f', class {label}'}, shown as {shown}"


def samples_figure(model: torch.nn.Module, n: int = 64, temperature: float = 1.0, mean: bool = True,
                   seed: int = 0, nrow: int | None = None, label: int | None = None) -> Image.Image:
    """A titled grid of ``prior_samples`` (``nrow`` images per row, default about square; a conditional model
    without a label: one class per column)."""
    images = prior_samples(model, n, temperature, mean, seed, label)  # (n, C, H, W)
    if nrow is None:
        nrow = model.n_classes if (model.is_conditional and label is None) else max(1, math.ceil(math.sqrt(n)))
    what = None if not model.is_conditional else ("0, 1, ... by column" if label is None else str(label))
    prior = getattr(model.prior, "description", "p(z)")
    return with_title(image_grid(images, nrow), samples_title(n, temperature, mean, what, prior))


def save_samples(run: Run | str | Path, out: str | Path | None = None, n: int = 64, temperature: float = 1.0,
                 mean: bool = True, seed: int = 0, nrow: int | None = None, label: int | None = None) -> Path:
    """Write the samples grid of a run as PNG (default RUN/samples.png); returns the path."""
    run = as_run(run)
    require_density(run, "sampling")
    return save_png(samples_figure(run.model, n, temperature, mean, seed, nrow, label),
                    default_path(run, "samples.png", out))
