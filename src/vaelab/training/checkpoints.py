"""The checkpoint policy: after every epoch, metrics.jsonl and last.safetensors (everything a resume needs);
model.safetensors when the validation score improved (the averaged weights when averaging is on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaelab.errors import ConfigError
from vaelab.runs.checkpoint import BEST, LAST, load_training_state, save_training_state, save_weights
from vaelab.runs.files import write_metrics
from vaelab.training.ema import WeightAverage


class Checkpoints:
    """Writes a run's checkpoints (rank 0 only) and reads the resume state back."""

    def __init__(self, run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 average: WeightAverage | None, writes: bool = True):
        self.run_dir, self.model, self.optimizer, self.average = Path(run_dir), model, optimizer, average
        self.writes = writes

    def end_of_epoch(self, records: list[dict[str, Any]], improved: bool, best_meta: dict[str, Any],
                     rng: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        """metrics.jsonl, model.safetensors if ``improved``, last.safetensors (weights, Adam, average, RNG,
        counters ``state``)."""
        if not self.writes:
            return
        write_metrics(self.run_dir, records)
        if improved:
            meta = dict(best_meta, weights="average" if self.average is not None else "raw")
            if self.average is not None:
                with self.average.applied():
                    save_weights(self.run_dir / BEST, self.model, meta)
            else:
                save_weights(self.run_dir / BEST, self.model, meta)
        save_training_state(self.run_dir / LAST, self.model, self.optimizer, rng, state,
                            extra=self.average.state_tensors() if self.average is not None else None)

    def resume_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """Load last.safetensors into the model, optimiser and average: (RNG states, counters), or None."""
        if not (self.run_dir / LAST).is_file():
            return None
        extra: dict[str, torch.Tensor] = {}
        rng, meta = load_training_state(self.run_dir / LAST, self.model, self.optimizer, extra)
        if self.average is not None:
            self.average.load_state_tensors(extra)
        return rng, meta


def init_weights_path(init_from: str) -> Path:
    """The best weights of the run directory ``init_from`` (or a .safetensors file given directly)."""
    path = Path(init_from)
    path = path / BEST if path.is_dir() else path
    if not path.is_file():
        raise ConfigError(f"--init-from {init_from}: expected a run directory holding {BEST} or a .safetensors file")
    return path
