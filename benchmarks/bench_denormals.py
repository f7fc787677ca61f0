"""DENORMALS: what subnormal weights cost a CPU training step, and what zeroing them (vaelab's sweep) saves.

A background model (`vaelab train --background-of`: weight decay 1e-3) drives unused weights toward 0 until they
turn subnormal: in one such run (the digit background of docs/anomaly.md, before the sweep existed) 35% of the
encoder's second layer and 9% of its first were subnormal after 50 epochs, and its epochs had slowed from 0.7 s to
4.8 s. This times the forward and backward pass of the same network shape, MLP 784-512-512-40 with ReLU on a batch
of 100, with those fractions of its weights subnormal, against the same network with them zeroed as
vaelab.utils.denormals.zero_subnormals_ does every 100 training steps, pair by pair in one process.

    python benchmarks/bench_denormals.py [--pairs 5] [--steps 20] [--threads 2] [--train --data-dir ../shared/data]

With --train it also trains that background model's configuration (docs/anomaly.md's digit models: MLP 784-512-512,
ReLU, latent 20, batch 100, inputs perturbed at rate 0.3, weight decay 1e-3, 50 epochs on the t10k digits but 9s)
in the real training loop three times: vaelab.train without the sweep and with it, and the `vaelab train` program
(the sweep and the processor's flush-to-zero mode); it reports the first and last epochs' times and how many values
of the last checkpoint are subnormal.

Writes docs/benchmarks/bench_denormals.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch

from common import DEFAULT_DATA, REPO, write_section
from vaelab.utils.denormals import zero_subnormals_

SUBNORMAL_FRACTION = (0.09, 0.35, 0.06)  # per layer, as measured in the background run's encoder


def network(seed: int, zeroed: bool) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 40))
    with torch.no_grad():
        for layer, frac in zip([m for m in net if isinstance(m, torch.nn.Linear)], SUBNORMAL_FRACTION):
            mask = torch.rand(layer.weight.shape) < frac
            layer.weight[mask] = 1e-39 * torch.sign(torch.randn(int(mask.sum())))  # subnormal in fp32
    if zeroed:
        zero_subnormals_(net.parameters())
    return net


def time_passes(zeroed: bool, steps: int, seed: int) -> float:
    """Milliseconds per forward and backward pass, median over ``steps`` (no optimizer step: in the trained
    background these weights get no gradient from the data, so they stay subnormal; here an update would make
    them normal)."""
    net = network(seed, zeroed)
    x = (torch.rand(100, 784, generator=torch.Generator().manual_seed(seed)) > 0.7).float()  # (B, 784)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        net.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def sweep_cost(repeats: int = 50) -> str:
    """What one sweep costs for the default recipe's model (MLP 200-200, latent 50): its parameters, Adam's two
    moments and the weight average; the training loop sweeps every SWEEP_EVERY steps."""
    import vaelab
    from vaelab.training.ema import WeightAverage
    from vaelab.utils.denormals import SWEEP_EVERY, training_tensors

    model = vaelab.build_model(vaelab.ModelConfig(image_shape=(1, 28, 28), hidden=(200, 200), latent_dim=50,
                                                  likelihood="bernoulli"))
    optimizer, average = torch.optim.Adam(model.parameters()), WeightAverage(model, 0.999)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    optimizer.step()  # Adam's state exists
    tensors = list(training_tensors(model, optimizer, average))
    t0 = time.perf_counter()
    for _ in range(repeats):
        zero_subnormals_(tensors)
    ms = 1000 * (time.perf_counter() - t0) / repeats
    return (f"One sweep of the default recipe's model ({sum(t.numel() for t in tensors):,} values: weights, Adam's "
            f"moments, the weight average) takes {ms:.2f} ms, once every {SWEEP_EVERY} steps: {ms / SWEEP_EVERY:.3f} "
            "ms per step.")


def train_both(data_dir: str, out: str) -> list[str]:
    """Train the background configuration three ways (vaelab.train without and with the sweep, the vaelab
    program); table rows."""
    from pathlib import Path

    from mnist_t10k import write_t10k_npz
    from safetensors.torch import load_file

    import vaelab
    from vaelab.training import loop

    npz, _ = write_t10k_npz(data_dir, Path(out) / "mnist_t10k_no9.npz", exclude=[9])
    config = dict(dataset=str(npz), binarize="threshold", hidden=(512, 512), latent_dim=20, activation="relu",
                  batch_size=100, lr=1e-3, lr_decay=1.0, warmup_epochs=0.0, ema_decay=0.0, patience=None,
                  max_minutes=None, compile=False, epochs=50, seed=0, device="cpu", perturbation=0.3,
                  weight_decay=1e-3)
    rows = []
    ways = (("vaelab.train, without the sweep", 10 ** 9), ("vaelab.train, with the sweep (every 100 steps)",
                                                             loop.SWEEP_EVERY),
            ("the vaelab program: the sweep and flush-to-zero", None))
    for name, every in ways:
        if every is None:  # the command line, in a process of its own
            cmd = [sys.executable, "-m", "vaelab", "train", "--dataset", str(npz), "--binarize", "threshold",
                   "--hidden", "512,512", "--latent-dim", "20", "--activation", "relu", "--batch-size", "100",
                   "--lr-decay", "1", "--warmup-epochs", "0", "--ema-decay", "0", "--patience", "0",
                   "--max-minutes", "0", "--no-compile", "--epochs", "50", "--seed", "0", "--device", "cpu",
                   "--perturbation", "0.3", "--weight-decay", "1e-3", "--quiet", "--out", f"{out}/program"]
            subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
            run = vaelab.load(f"{out}/program")
        else:
            saved, loop.SWEEP_EVERY = loop.SWEEP_EVERY, every
            try:
                run = vaelab.train(vaelab.TrainConfig.from_dict({**config, "out": f"{out}/{every}"}), quiet=True)
            finally:
                loop.SWEEP_EVERY = saved
        secs = [m["epoch_seconds"] for m in run.metrics]
        last = load_file(str(run.run_dir / "last.safetensors"))  # as written: loading a run zeroes them
        sub = sum(int(((t != 0) & (t.abs() < torch.finfo(t.dtype).tiny)).sum()) for t in last.values()
                  if t.is_floating_point())
        total = sum(t.numel() for t in last.values() if t.is_floating_point())
        rows.append(f"| {name} | {statistics.median(secs[:5]):.2f} | {statistics.median(secs[-5:]):.2f} | "
                    f"{sum(secs) / 60:.1f} | {sub / total:.1%} | {run.results['elbo']:.2f} |")
    return ["| training | s per epoch, epochs 1-5 (median) | s per epoch, epochs 46-50 (median) | minutes in all | "
            "subnormal values in the last checkpoint (weights and Adam state) | test ELBO |",
            "|---|---|---|---|---|---|", *rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train", action="store_true", help="also train the background configuration three ways")
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--out", default="/tmp/vaelab-bench-denormals", help="run directories of --train")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    kept, zeroed = [], []
    for i in range(args.pairs):
        kept.append(time_passes(False, args.steps, i))
        zeroed.append(time_passes(True, args.steps, i))
        print(f"pair {i}: {kept[-1]:.1f} ms with subnormal weights, {zeroed[-1]:.1f} ms with them zeroed", flush=True)
    ratios = [a / b for a, b in zip(kept, zeroed)]
    lines = ["| weights | ms per forward + backward pass (median of pairs) |", "|---|---|",
             f"| subnormal ones kept (torch's default) | {statistics.median(kept):.1f} |",
             f"| subnormal ones zeroed (vaelab's sweep) | {statistics.median(zeroed):.1f} |", "",
             f"Speed-up, median (min-max) over {args.pairs} pairs of {args.steps} passes each: "
             f"**{statistics.median(ratios):.1f}x** ({min(ratios):.1f}-{max(ratios):.1f}); {args.threads} threads. "
             f"Subnormal fractions per layer: {', '.join(f'{f:.0%}' for f in SUBNORMAL_FRACTION)}."]
    lines += ["", sweep_cost()]
    if args.train:
        lines += ["", "The background configuration in the training loop, trained three times one after the other "
                  f"({args.threads} threads; the program in a process of its own):", "",
                  *train_both(args.data_dir, args.out)]
    write_section(REPO / "docs" / "benchmarks" / "bench_denormals.md", "Subnormal weights: a training pass with and "
                  "without them zeroed", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
