"""One training step's pieces: the optimiser, the epoch's batches, the step as a module, the RNG state."""

from __future__ import annotations

from typing import Any, Iterator

import torch

from vaelab.data import streaming
from vaelab.data.streaming import StreamingSplit
from vaelab.errors import TrainingDiverged
from vaelab.models.objectives import Objective
from vaelab.runs.config import TrainConfig
from vaelab.utils import distributed


def make_objective(config: TrainConfig) -> Objective:
    """The loss the training loop minimises (ELBO or IWAE_k, with the chosen gradient estimator)."""
    return Objective(config.objective, config.estimator, samples=config.noise_samples,
                     use_baseline=config.baseline, free_bits=config.free_bits)


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam with default betas and an L2 penalty ``weight_decay`` (added to the gradients, as a regulariser of
    the loss is); the fused kernel (one pass over all parameters) where torch has it."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):  # fused Adam not available for this device or torch build
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def batches(train_x: torch.Tensor | StreamingSplit, perm: torch.Tensor, batch_size: int,
            ctx: distributed.Distributed, device: torch.device, train_y: torch.Tensor | None = None
            ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor | None]]:
    """(global batch size, this rank's examples, their labels or None) for each batch of the epoch's
    permutation ``perm``; ``train_y`` (N,) on the device, for a conditional model.

    In memory, a batch is an index slice of the one data tensor; a data set streamed from disk is read
    ahead by DataLoader workers (same batches, same order)."""
    index_batches = [perm[i:i + batch_size] for i in range(0, perm.shape[0], batch_size)]
    labels = (lambda idx: None) if train_y is None else (lambda idx: train_y[idx.to(train_y.device)])
    if isinstance(train_x, StreamingSplit):
        shards = [ctx.shard(idx.cpu()) for idx in index_batches]
        for idx, shard, x in zip(index_batches, shards, streaming.batches(train_x, shards)):
            yield idx.shape[0], x.to(device, non_blocking=True), labels(shard)
    else:
        for idx in index_batches:
            shard = ctx.shard(idx)
            yield idx.shape[0], train_x[shard], labels(shard)


class TrainStep(torch.nn.Module):
    """One forward pass of the objective as a module, so DistributedDataParallel (and torch.compile) can
    wrap it: returns the (rank-scaled) loss and the batch sums of the per-example metrics."""

    def __init__(self, model: torch.nn.Module, objective: Objective, precision: str, device: torch.device):
        super().__init__()
        self.model, self.objective = model, objective
        self.autocast = precision == "bf16"
        self.device_type = device.type

    def forward(self, x: torch.Tensor, beta: float, eps: torch.Tensor | None, scale: float,
                y: torch.Tensor | None = None) -> dict[str, Any]:
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.autocast):
            out = self.objective(self.model, x, beta=beta, eps=eps, y=y)
        metrics = out.metrics()
        sums = torch.stack([v.detach().double().sum() for v in metrics.values()])  # (M,)
        return {"loss": out.loss * scale, "sums": sums, "names": list(metrics)}


def wrap_step(step: TrainStep, ctx: distributed.Distributed, device: torch.device, compile: bool) -> torch.nn.Module:
    """The step under DistributedDataParallel (torchrun) and torch.compile, as asked."""
    module: torch.nn.Module = step
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        module = DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)
    return torch.compile(module) if compile else module


def sanity_check(model: torch.nn.Module, x: torch.Tensor, seed: int, y: torch.Tensor | None = None) -> None:
    """One forward pass before training (pythae): a model that outputs NaN on real data fails at once."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    with torch.no_grad():
        out = model(x, samples=1, generator=gen, y=y)
    if not torch.isfinite(out.loss):
        raise TrainingDiverged(f"the untrained model gives a non-finite loss ({float(out.loss)}) on the first "
                               "examples: check the data for NaN/inf values and the likelihood choice")


def rng_state(data_gen: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "data": data_gen.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], data_gen: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    data_gen.set_state(state["data"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
