"""Per-epoch logging to TensorBoard (``vaelab train --tensorboard``), behind the small interface the loop calls.

The loop calls ``logger.epoch(record, model, valid_x)`` once per finished epoch and ``logger.close(results)`` at
the end; ``epoch_logger`` returns a logger that does nothing when TensorBoard is off (or on ranks other than 0).

What is written, under RUN/tensorboard/ (global step = epoch):
- scalars ``train/*`` and ``valid/*`` (ELBO, reconstruction, KL, and IWAE_k where the objective has it), plus
  ``valid/iwae_k{K}`` (K = 50) on up to 500 validation examples for a model with a density, ``schedule/lr``,
  ``schedule/beta``, ``time/seconds`` (the epoch's training time), ``time/examples_per_second``;
- every ``images_every`` epochs (and at the last), images ``samples`` (decoded prior samples) and
  ``reconstructions`` (validation images, then their reconstructions) for image data (not for a table, nor
  for a conditional model, whose decoder needs labels);
- at the end, the config as hparams with the final test metrics (RUN/tensorboard/hparams/).

A resumed run writes with ``purge_step`` = the first epoch after the checkpoint, so TensorBoard drops the steps
a killed run had logged after its last checkpoint and the curves continue without duplicates.
The ``tensorboard`` package is an optional extra: a missing one is one line naming it.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from vaelab.errors import ConfigError

FOLDER = "tensorboard"
IWAE_K, IWAE_EXAMPLES = 50, 500
SCHEDULE = {"lr": "schedule/lr", "beta": "schedule/beta", "seconds": "time/seconds",
            "examples_per_second": "time/examples_per_second", "epoch_seconds": "time/epoch_seconds"}


class NullLogger:
    """The logger when TensorBoard is off: every call does nothing."""

    def epoch(self, record: dict[str, Any], model: torch.nn.Module, valid_x: torch.Tensor,
              average: Any = None) -> None:
        pass

    def close(self, results: dict[str, Any] | None = None) -> None:
        pass


def summary_writer(log_dir: Path, purge_step: int | None = None) -> Any:
    """torch's SummaryWriter, or one line naming the optional extra when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install 'vaelab[tensorboard]'") from None
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


def scalar_tags(record: dict[str, Any]) -> dict[str, float]:
    """An epoch's metrics.jsonl record as TensorBoard tags -> values."""
    out = {}
    for key, value in record.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or key in ("epoch", "step"):
            continue
        if key.startswith(("train_", "valid_")):
            split, name = key.split("_", 1)
            out[f"{split}/{name}"] = float(value)
        elif key in SCHEDULE:
            out[SCHEDULE[key]] = float(value)
    return out


def _hparam(value: Any) -> Any:
    """A config value as an hparam (numbers, strings and bools as they are; the rest as text)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class TensorBoardLogger:
    """Writes one epoch's scalars (and every ``images_every`` epochs its images) to RUN/tensorboard/."""

    def __init__(self, run_dir: Path, config: Any, start_epoch: int, images_every: int):
        self.run_dir, self.config, self.images_every = Path(run_dir), config, max(1, int(images_every))
        self.writer = summary_writer(self.run_dir / FOLDER, purge_step=start_epoch + 1 if start_epoch else None)

    def epoch(self, record: dict[str, Any], model: torch.nn.Module, valid_x: torch.Tensor,
              average: Any = None) -> None:
        """Log one finished epoch; the IWAE bound and the images use the weights validation used (the averaged
        ones when ``average``, a WeightAverage, is given)."""
        step = int(record["epoch"])
        for tag, value in scalar_tags(record).items():
            self.writer.add_scalar(tag, value, step)
        was_training = model.training
        model.eval()
        with torch.no_grad(), (average.applied() if average is not None else nullcontext()):
            if model.has_density:
                self.writer.add_scalar(f"valid/iwae_k{IWAE_K}", self._iwae(model, valid_x), step)
            if (step % self.images_every == 0 or step == self.config.epochs) and valid_x.shape[2] > 1:
                self._images(model, valid_x, step)
        model.train(was_training)
        self.writer.flush()

    def _iwae(self, model: torch.nn.Module, valid_x: torch.Tensor) -> float:
        """IWAE_k on the first validation examples (a fixed seed): a tighter bound's curve beside the ELBO's."""
        from vaelab.models.importance import log_likelihood

        if model.is_conditional:  # needs labels the logger does not hold
            return math.nan
        return float(log_likelihood(model, valid_x[:IWAE_EXAMPLES], k=IWAE_K, seed=int(self.config.seed)).mean())

    def _images(self, model: torch.nn.Module, valid_x: torch.Tensor, step: int) -> None:
        if model.is_conditional:  # its samples and reconstructions need labels the logger does not hold
            return
        generator = torch.Generator(device=valid_x.device).manual_seed(int(self.config.seed))  # the same z each time
        samples = model.sample(64, generator=generator)
        x = valid_x[:32]
        recon = model.reconstruct(x)
        self.writer.add_images("samples", samples.clamp(0, 1).cpu(), step)
        self.writer.add_images("reconstructions", torch.cat([x, recon]).clamp(0, 1).cpu(), step)

    def close(self, results: dict[str, Any] | None = None) -> None:
        if results is not None:
            flat = {k: _hparam(v) for k, v in self.config.to_dict().items() if k != "model"}
            flat.update({f"model.{k}": _hparam(v) for k, v in self.config.model.to_dict().items()})
            metrics = {f"test/{k}": float(v) for k, v in results.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
            self.writer.add_hparams(flat, metrics, run_name="hparams")
        self.writer.close()


def epoch_logger(config: Any, run_dir: Path, start_epoch: int, is_main: bool) -> TensorBoardLogger | NullLogger:
    """The logger for this run: TensorBoard with ``config.tensorboard`` on rank 0, else one that does nothing."""
    if not getattr(config, "tensorboard", False) or not is_main:
        return NullLogger()
    return TensorBoardLogger(run_dir, config, start_epoch, config.tensorboard_images_every)
