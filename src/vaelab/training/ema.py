"""Polyak averaging: an exponential moving average of the weights, used for validation and the best model.

The averaged weights are a cheap ensemble of the last ~1/(1-decay) optimiser steps; they smooth out
Adam's step noise and usually give a better held-out ELBO than the raw weights at the same step.
Training itself always updates the raw weights; the average only follows them.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


class WeightAverage:
    """EMA of ``model``'s parameters with ``decay`` (warmed up as min(decay, (1 + t) / (10 + t)), so the
    random initialisation is forgotten within the first few hundred steps)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.params = list(model.parameters())
        self.average = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the current weights (call after every optimiser step)."""
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - decay)
        self.updates += 1

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the raw weights come back after it."""
        with torch.no_grad():
            raw = [p.detach().clone() for p in self.params]
            for p, a in zip(self.params, self.average):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, r in zip(self.params, raw):
                    p.copy_(r)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The average as named tensors (for last.safetensors) plus the update count."""
        out = {f"ema.{i}": a for i, a in enumerate(self.average)}
        out["ema.updates"] = torch.tensor(self.updates, dtype=torch.int64)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore from ``state_tensors`` (a resumed run continues the same average)."""
        with torch.no_grad():
            for i, a in enumerate(self.average):
                a.copy_(tensors[f"ema.{i}"].to(a.device))
        self.updates = int(tensors["ema.updates"])
