"""Reconstructions: test examples above their reconstructions E[x|z = mu(x)], row by row."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from vaelab.runs.data import condition_labels
from vaelab.runs.run import Run
from vaelab.visualisation.canvas import save_png, with_title
from vaelab.visualisation.common import as_run, default_path, model_device, pick, run_dataset, split_of
from vaelab.visualisation.grid import image_grid


def interleave_rows(originals: torch.Tensor, others: torch.Tensor, per_row: int) -> torch.Tensor:
    """Rows of ``originals`` (per_row images each) alternating with the matching rows of ``others``: (2N, C, H, W)."""
    rows = []
    for start in range(0, originals.shape[0], per_row):
        rows += [originals[start:start + per_row], others[start:start + per_row]]
    return torch.cat(rows)


@torch.no_grad()
def reconstructions_figure(model: torch.nn.Module, x: torch.Tensor, per_row: int = 8,
                           title: str | None = None, y: torch.Tensor | None = None) -> Image.Image:
    """Originals x (N, C, H, W) on odd rows, their reconstructions (decoder mean at the posterior mean) below;
    a conditional model is given the labels y (N,)."""
    dev = model_device(model)
    recon = model.reconstruct(x.to(dev), None if y is None else y.to(dev)).cpu()  # (N, C, H, W)
    per_row = max(1, min(per_row, x.shape[0]))
    title = title or (f"{x.shape[0]} examples (rows 1, 3, ...) above their reconstructions E[x|z = mu(x)] "
                      "(rows 2, 4, ...)")
    return with_title(image_grid(interleave_rows(x.cpu(), recon, per_row), per_row), title)


def save_reconstructions(run: Run | str | Path, out: str | Path | None = None, n: int = 16, split: str = "test",
                         per_row: int = 8, seed: int = 0) -> Path:
    """Write ``n`` seeded random examples of ``split`` above their reconstructions (default RUN/reconstructions.png)."""
    run = as_run(run)
    data = run_dataset(run)
    x, _ = split_of(data, split)
    idx = pick(x.shape[0], n, seed)
    x, y = x[idx], condition_labels(run.model, data, split)
    y = None if y is None else y[idx]
    title = (f"{x.shape[0]} {split} examples (rows 1, 3, ...) above their reconstructions E[x|z = mu(x)] "
             "(rows 2, 4, ...)")
    return save_png(reconstructions_figure(run.model, x, per_row, title, y), default_path(run, "reconstructions.png", out))
