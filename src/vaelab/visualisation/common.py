"""Helpers the visualisations share: a run from a path, the run's data split, seeded example choice."""

from __future__ import annotations

from pathlib import Path

import torch

from vaelab.data.dataset import Dataset
from vaelab.errors import ConfigError, VaelabError
from vaelab.training.run import Run, load


def as_run(run: Run | str | Path) -> Run:
    """``run`` itself, or the run loaded (on the CPU) from a run directory."""
    return run if isinstance(run, Run) else load(run)


def run_dataset(run: Run) -> Dataset:
    """The run's data set, loaded with the run's own options (data root, binarization, split seed)."""
    from vaelab.training.loop import load_data

    return load_data(run.config)


def split_of(data: Dataset, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images (N, C, H, W) and labels (N,) or None of split ``split`` of ``data``."""
    if split not in ("train", "valid", "test"):
        raise ConfigError(f"unknown split {split!r}: expected train, valid or test")
    return data.split(split), data.labels(split)


def require_vae(run: Run, what: str) -> None:
    """Refuse an autoencoder run for a figure that needs the VAE's prior or posterior."""
    if run.model_config.model != "vae":
        raise VaelabError(f"{run.run_dir}: {what} needs a VAE run (this run is a {run.model_config.model!r} model, "
                          "which has no prior p(z))")


def pick(n_total: int, n: int, seed: int = 0) -> torch.Tensor:
    """``min(n, n_total)`` distinct indices in 0..n_total-1, drawn with ``seed`` (splits may be sorted by class)."""
    if n < 1:
        raise ConfigError(f"need at least 1 example, got {n}")
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def default_path(run: Run, name: str, out: str | Path | None) -> Path:
    """``out`` when given, else RUN/name."""
    return Path(out) if out is not None else Path(run.run_dir) / name


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def posterior_means(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """E[z|x], the encoder's mu for each image of x (N, C, H, W): (N, D) on the CPU."""
    was_training = model.training
    model.eval()
    dev = model_device(model)
    out = torch.cat([model.encode(x[i:i + batch_size].to(dev)).mu.cpu() for i in range(0, x.shape[0], batch_size)])
    model.train(was_training)
    return out
