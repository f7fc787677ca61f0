"""Data-parallel training under torchrun: process group, sharding of each global batch, reductions.

Every rank draws the same random numbers (permutation, z noise, binarization) for the *global* batch and
takes its strided slice, so a run on N ranks computes what a single process with the same global batch
and seed computes, up to the order of floating-point sums. Only rank 0 writes files and progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    """This process's place in the job: rank, world size, and whether it talks to others."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, t: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """This rank's strided slice (rank, rank + W, ...) of a global batch along ``dim``."""
        if not self.enabled:
            return t
        index = torch.arange(self.rank, t.shape[dim], self.world_size, device=t.device)
        return t.index_select(dim, index)

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum of ``t`` over ranks (float64 sums go through gloo/nccl as they are)."""
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def setup(device_name: str) -> tuple[Distributed, torch.device]:
    """Read torchrun's environment; start the process group (nccl on CUDA, gloo on CPU) when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed(), device_for(device_name, 0)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = device_for(device_name, local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank=rank, world_size=world, local_rank=local), device


def teardown(ctx: Distributed, ok: bool = True) -> None:
    """Leave the process group; after a clean run all ranks first meet at a barrier, so that none tears
    down gloo while another still uses it (which aborts the process)."""
    if ctx.enabled and dist.is_initialized():
        if ok:
            dist.barrier()
        dist.destroy_process_group()


def device_for(name: str, local_rank: int) -> torch.device:
    from vaelab.errors import ConfigError

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but no CUDA GPU is available: use --device cpu or auto")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device(name)
