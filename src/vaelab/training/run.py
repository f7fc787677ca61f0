"""A run directory and its contents, loaded back for use in notebooks and commands.

Layout: config.json (data, model, training settings), model.safetensors (best weights),
last.safetensors (resume state), metrics.jsonl (one line per epoch), results.json (test metrics).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vaelab.errors import VaelabError
from vaelab.models import Autoencoder, ModelConfig, VAE, build_model
from vaelab.training.checkpoint import BEST, LAST, load_last_weights, load_weights
from vaelab.training.config import TrainConfig

CONFIG = "config.json"
METRICS = "metrics.jsonl"
RESULTS = "results.json"


@dataclass
class Run:
    """A trained (or loaded) run: its directory, configs, model (best weights) and recorded metrics."""

    run_dir: Path
    config: TrainConfig
    model_config: ModelConfig
    model: VAE | Autoencoder
    metrics: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] | None = None
    data_info: dict[str, Any] = field(default_factory=dict)


def read_config(run_dir: Path) -> tuple[TrainConfig, ModelConfig, dict[str, Any]]:
    """(training config, model config, data info) from RUN/config.json, with a clear error if absent."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise VaelabError(f"{path}: not found (expected a run directory written by vaelab train)")
    try:
        doc = json.loads(path.read_text())
        train = dict(doc["train"])
        train.setdefault("ema_decay", 0.0)  # runs written before weight averaging existed trained without it
        return TrainConfig.from_dict(train), ModelConfig.from_dict(doc["model"]), doc.get("data", {})
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise VaelabError(f"{path}: not a vaelab config ({type(exc).__name__}: {exc}); "
                          "expected JSON with 'train' and 'model' sections") from None


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch records of RUN/metrics.jsonl (empty if the run has not finished an epoch)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


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
    model.to(device).eval()
    results_path = run_dir / RESULTS
    results = json.loads(results_path.read_text()) if results_path.is_file() else None
    return Run(run_dir=run_dir, config=config, model_config=model_config, model=model,
               metrics=read_metrics(run_dir), results=results, data_info=data_info)
