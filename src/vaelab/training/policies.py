"""The training loop's rules, each small enough to call on its own: the KL and learning-rate schedules, early
stopping, what 'best' means, the time limit, and the precision/compile choice."""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import time
from dataclasses import dataclass

import torch

from vaelab.errors import ConfigError

COMPILE_MIN_EXAMPLES = 10_000_000  # example passes (epochs x training examples) from which compiling pays


@dataclass
class KLSchedule:
    """beta, ramped linearly from 0 over ``warmup_epochs`` (then the loss is the negative ELBO again)."""

    beta: float = 1.0
    warmup_epochs: float = 0.0
    steps_per_epoch: int = 1

    def __call__(self, step: int) -> float:
        if self.warmup_epochs <= 0:
            return self.beta
        return self.beta * min(1.0, step / (self.warmup_epochs * self.steps_per_epoch))


def decay_learning_rate(optimizer: torch.optim.Optimizer, factor: float) -> float:
    """The exponential schedule: multiply every group's lr by ``factor`` (once per epoch); the lr is saved
    with the optimiser's state, so a resumed run continues the schedule. Returns the new lr."""
    for group in optimizer.param_groups:
        group["lr"] *= factor
    return optimizer.param_groups[0]["lr"]


def selection_score(valid: dict[str, float]) -> float:
    """What 'best' means: the bound being trained (IWAE_k under --objective iwae, else the ELBO), or an
    autoencoder's reconstruction log-likelihood."""
    return valid.get("iwae", valid.get("elbo", valid.get("reconstruction")))


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without a better validation score (None: never)."""

    patience: int | None = None
    best: float = -math.inf
    bad_epochs: int = 0

    def update(self, score: float) -> bool:
        """Record an epoch's score; True when it is the best so far."""
        if score > self.best:
            self.best, self.bad_epochs = score, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience


class TimeLimit:
    """Wall-clock budget of one invocation (a resumed run gets a fresh one)."""

    def __init__(self, max_minutes: float | None):
        self.max_minutes = max_minutes
        self.started = time.perf_counter()

    def exceeded(self) -> bool:
        return self.max_minutes is not None and (time.perf_counter() - self.started) / 60 > self.max_minutes


def compile_pays(example_passes: int, device: torch.device) -> bool:
    """The default of ``compile``: torch.compile costs 5-20 s up front and saved ~15% per epoch on the
    default MLP (docs/benchmarks.md), so only long runs use it, and only where its compiler is there
    (a C++ compiler for the CPU, Triton for CUDA)."""
    if example_passes < COMPILE_MIN_EXAMPLES:
        return False
    if device.type == "cuda":
        return importlib.util.find_spec("triton") is not None
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def check_precision(precision: str, device: torch.device) -> None:
    """bf16 autocast needs a CPU or GPU that supports it; say so instead of failing deep inside."""
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("--precision bf16: this GPU does not support bfloat16; use --precision fp32")
