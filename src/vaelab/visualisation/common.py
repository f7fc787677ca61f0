"""Helpers the visualisations share: the run's data split, what a figure needs of the model, output paths."""

from __future__ import annotations

from pathlib import Path

import torch

from vaelab.data.dataset import Dataset
from vaelab.data.splits import pick
from vaelab.errors import ConfigError, VaelabError
from vaelab.models.batched import posterior_means
from vaelab.runs.data import load_data
from vaelab.runs.run import Run, as_run

__all__ = ["as_run", "run_dataset", "split_of", "require_density", "pick", "default_path", "model_device",
           "posterior_means"]


def run_dataset(run: Run) -> Dataset:
    """The run's data set, loaded with the run's own options (data root, binarization, split seed)."""
    return load_data(run.config)


def split_of(data: Dataset, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images (N, C, H, W) and labels (N,) or None of split ``split`` of ``data``."""
    if split not in ("train", "valid", "test"):
        raise ConfigError(f"unknown split {split!r}: expected train, valid or test")
    return data.split(split), data.labels(split)


def require_density(run: Run, what: str) -> None:
    """Refuse a run whose model has no prior p(z) (the autoencoder) for a figure that needs one."""
    if not run.model.has_density:
        raise VaelabError(f"{run.run_dir}: {what} needs a VAE run (this run is a {run.model_config.kind!r} model, "
                          "which has no prior p(z))")


def default_path(run: Run, name: str, out: str | Path | None) -> Path:
    """``out`` when given, else RUN/name."""
    return Path(out) if out is not None else Path(run.run_dir) / name


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device
