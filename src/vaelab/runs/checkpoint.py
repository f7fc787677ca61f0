"""Checkpoints as safetensors (never pickled networks), written atomically.

``model.safetensors`` holds the best weights; ``last.safetensors`` holds the weights, the optimiser's
state, the RNG states and the loop's counters, so a killed run continues exactly where it left off.
Non-tensor state travels as JSON in the safetensors metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vaelab.errors import VaelabError
from vaelab.utils.atomic import atomic_path

BEST = "model.safetensors"
LAST = "last.safetensors"


def _save(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"vaelab": json.dumps(meta)})


def _load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not path.is_file():
        raise VaelabError(f"{path}: no such checkpoint (expected a run directory written by vaelab train)")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("vaelab", "{}"))
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a damaged header or payload
        raise VaelabError(f"{path}: not a readable safetensors checkpoint ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else 'corrupt'})") from None
    return tensors, meta


def save_weights(path: Path, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Model weights only (the best model), with ``meta`` (config, epoch, valid ELBO) as metadata."""
    _save(path, dict(model.state_dict()), meta)


def load_weights(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load weights saved by ``save_weights`` into ``model``; returns the metadata."""
    tensors, meta = _load(path)
    _load_state(model, tensors, path)
    return meta


def _load_state(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise VaelabError(f"{path}: weights do not fit the model in config.json ({first})") from None


def save_training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        rng: dict[str, torch.Tensor], meta: dict[str, Any],
                        extra: dict[str, torch.Tensor] | None = None) -> None:
    """Everything needed to resume: weights, optimiser state, RNG states, ``meta`` (epoch, counters) and
    ``extra`` tensors (e.g. the weight average, keys ``ema.*``)."""
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"extra.{k}": v for k, v in (extra or {}).items()})
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in opt["state"].items():
        for name, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{name}"] = value
            else:
                scalars.setdefault(str(idx), {})[name] = value
    tensors.update({f"rng.{k}": v for k, v in rng.items()})
    meta = dict(meta, optimizer={"param_groups": opt["param_groups"], "scalars": scalars})
    _save(path, tensors, meta)


def load_last_weights(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load only the model weights of a ``save_training_state`` checkpoint; returns its metadata."""
    tensors, meta = _load(path)
    _load_state(model, _model_tensors(tensors), path)
    return meta


def _model_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}


def load_training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        extra: dict[str, torch.Tensor] | None = None
                        ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Restore weights and optimiser from ``save_training_state``; returns (rng states, meta) and fills
    ``extra`` (when given) with the saved extra tensors."""
    tensors, meta = _load(path)
    if extra is not None:
        extra.update({k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")})
    _load_state(model, _model_tensors(tensors), path)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    for idx, extra in meta["optimizer"]["scalars"].items():
        state.setdefault(int(idx), {}).update(extra)
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
    rng = {k[4:]: v for k, v in tensors.items() if k.startswith("rng.")}
    return rng, meta
