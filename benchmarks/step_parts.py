"""Where a BENCH training step spends its time: forward, backward and the Adam step timed separately, with the
minor page faults per step, on random binary data of binarized-MNIST size (no data files needed).

    python benchmarks/step_parts.py [--steps 300] [--repeats 3]
    VAELAB_MALLOC_TUNING=0 python benchmarks/step_parts.py      # without vaelab's malloc settings

Run it several times: on the 2-core machine some processes get a slow mode (Adam ~3.7x slower), see
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from vaelab.models import build_model
from vaelab.models.config import ModelConfig
from vaelab.training.step import make_optimizer
from vaelab.utils.allocator import keep_freed_memory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    print("malloc settings in effect:", keep_freed_memory())
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 28, 28), hidden=(512, 512), latent_dim=32,
                                    activation="relu", likelihood="bernoulli"))
    optimizer = make_optimizer(model, 1e-3)
    x = (torch.rand(50000, 1, 28, 28) < 0.15).float()  # (N, 1, 28, 28), MNIST-like density of ones
    perm = torch.randperm(50000)
    parts = [0.0, 0.0, 0.0]

    def step(i: int) -> None:
        t0 = time.perf_counter()
        xb = x[perm[i * 128:(i + 1) * 128]]  # (128, 1, 28, 28)
        out = model(xb, eps=torch.randn(1, 128, 32))
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        parts[0] += t1 - t0
        parts[1] += t2 - t1
        parts[2] += t3 - t2

    for i in range(50):  # warm-up
        step(i)
    for _ in range(args.repeats):
        parts[:] = [0.0, 0.0, 0.0]
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for i in range(args.steps):
            step(i % 390)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        fwd, bwd, adam = (t / args.steps * 1e3 for t in parts)
        print(f"forward {fwd:.2f}  backward {bwd:.2f}  Adam {adam:.2f}  total {fwd + bwd + adam:.2f} ms/step, "
              f"{faults / args.steps:.1f} minor page faults/step")


if __name__ == "__main__":
    main()
