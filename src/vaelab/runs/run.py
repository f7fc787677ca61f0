"""A run directory loaded back: its configs, model (best or last weights), metrics and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vaelab.errors import VaelabError
from vaelab.models import LatentVariableModel, ModelConfig, build_model
from vaelab.runs.checkpoint import BEST, LAST, load_last_weights, load_weights
from vaelab.runs.config import TrainConfig
from vaelab.runs.files import read_config, read_metrics, read_results
from vaelab.utils.denormals import zero_subnormals_


@dataclass
class Run:
    """A trained (or loaded) run: its directory, configs, model (best weights) and recorded metrics."""

    run_dir: Path
    config: TrainConfig
    model_config: ModelConfig
    model: LatentVariableModel
    metrics: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] | None = None
    data_info: dict[str, Any] = field(default_factory=dict)


def load(run_dir: str | Path, device: str | torch.device = "cpu", which: str = "best") -> Run:
    """Load a run: ``which='best'`` (model.safetensors) or ``'last'`` (the latest checkpoint's weights)."""
    run_dir = Path(run_dir)
    config, model_config, data_info = read_config(run_dir)
    model = build_model(model_config)
    if which == "best":
        load_weights(run_dir / BEST, model)
    elif which == "last":
        load_last_weights(run_dir / LAST, model)
    else:
        raise VaelabError(f"unknown checkpoint {which!r}: expected best or last")
    zero_subnormals_(model.parameters())  # a run trained before they were swept away scores as fast as a new one
    model.to(device).eval()
    return Run(run_dir=run_dir, config=config, model_config=model_config, model=model,
               metrics=read_metrics(run_dir), results=read_results(run_dir), data_info=data_info)


def as_run(run: Run | str | Path) -> Run:
    """``run`` itself, or the run loaded (on the CPU) from a run directory."""
    return run if isinstance(run, Run) else load(run)
