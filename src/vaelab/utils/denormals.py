"""Subnormal floats kept out of CPU arithmetic: zeroed in the tensors vaelab trains and loads, and flushed to zero
by the processor in vaelab's own command-line processes.

Weight decay drives unused weights (and their Adam moments) toward 0 geometrically until they turn subnormal
(below 1.2e-38 in fp32), and x86 arithmetic with a subnormal operand is tens of times slower: a background model
(`--background-of`, weight decay 1e-3) slowed from 0.54 s to 3.33 s per epoch over 50 epochs
(benchmarks/bench_denormals.py, docs/benchmarks/bench_denormals.md). Two remedies, each changing values by less
than 1.2e-38:

- ``zero_subnormals_``: the training loop sweeps the parameters, the optimizer state and the weight average every
  SWEEP_EVERY steps on the CPU, and loading a run sweeps its weights. It touches only vaelab's tensors, so it is
  safe inside any program; it cannot reach the subnormals a step makes and uses within itself (Adam squares tiny
  gradients), which is why that run still slowed to 0.97 s per epoch with it (0.52 s with both). A sweep of
  the default recipe's model costs 2.5 ms, 0.025 ms per step.
- ``flush_denormals_in_process``: the processor's flush-to-zero mode (torch.set_flush_denormal), which catches
  those too. It is per-thread state that torch's worker threads copy when they start, and it is global to the
  process, so other code in it changes behaviour (the hypothesis library refuses to run under it): the `vaelab`
  program sets it before it computes anything, and library calls never do. ``VAELAB_FLUSH_DENORMALS=0`` leaves
  it off.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import torch

SWEEP_EVERY = 100  # optimizer steps between two sweeps: a weight takes hundreds of steps to decay into the range


@torch.no_grad()
def zero_subnormals_(tensors: Iterable[torch.Tensor]) -> None:
    """Set every subnormal value of these tensors (floating point ones; others are skipped) to 0, in place."""
    for t in tensors:
        if t.is_floating_point() and t.numel():
            t.masked_fill_(t.abs() < torch.finfo(t.dtype).tiny, 0.0)


def training_tensors(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                     average: object | None = None) -> Iterator[torch.Tensor]:
    """The tensors a training step keeps: the parameters, the optimizer's state (Adam's moments) and the weight
    average's copies (``average.average``), where given."""
    yield from (p.data for p in model.parameters())
    if optimizer is not None:
        for state in optimizer.state.values():
            yield from (v for v in state.values() if isinstance(v, torch.Tensor))
    if average is not None:
        yield from getattr(average, "average", [])


def flush_denormals_in_process() -> bool:
    """Switch this thread (and the worker threads torch starts after it) to flush-to-zero arithmetic, unless
    VAELAB_FLUSH_DENORMALS=0; returns whether it is on. For a process of vaelab's own (module docstring)."""
    if os.environ.get("VAELAB_FLUSH_DENORMALS", "1") == "0":
        return False
    return bool(torch.set_flush_denormal(True))
