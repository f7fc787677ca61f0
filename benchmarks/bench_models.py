"""Training cost of each model of the family against the standard VAE at the same network, batch and precision,
timed pair by pair in one run (standard, model, standard, model, ...) on binarized-MNIST batches.

    python benchmarks/bench_models.py [--steps 100] [--repeats 5]

Each figure is the time of --steps training steps (forward, backward, Adam) of the default recipe's network
(MLP 200-200 tanh, latent 50, batch 100, fp32); an epoch is 500 such steps. Writes docs/benchmarks/bench_models.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from common import DEFAULT_DATA, REPO, paired_row, write_section

from vaelab.data import load_dataset
from vaelab.models import ModelConfig, build_model
from vaelab.models.objectives import elbo
from vaelab.training.step import make_optimizer
from vaelab.utils.allocator import keep_freed_memory

MODELS = {
    "VampPrior, K = 500": dict(prior="vamp", pseudo_inputs=500),
    "VampPrior, K = 100": dict(prior="vamp", pseudo_inputs=100),
    "mixture of Gaussians prior, K = 10": dict(prior="mog", components=10),
    "IAF posterior, 2 steps": dict(posterior="iaf", flow_steps=2),
    "planar flow posterior, 4 steps": dict(posterior="planar", flow_steps=4),
    "two stochastic layers (50 + 50)": dict(stochastic_layers=2),
    "two layers + VampPrior, K = 500": dict(stochastic_layers=2, prior="vamp", pseudo_inputs=500),
    "gated layers": dict(gated=True),
}


def step_time(config: dict, x: torch.Tensor, steps: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(image_shape=(1, 28, 28), likelihood="bernoulli", **config))
    model.initialise_from_data(x, torch.Generator().manual_seed(seed))
    opt = make_optimizer(model, 1e-3)
    batches = [x[i:i + 100] for i in range(0, steps * 100, 100)]
    noise = [torch.randn(1, 100, model.latent_dim * model.posterior.noise_per_latent) for _ in batches]
    for b, e in zip(batches[:5], noise[:5]):  # warm-up
        out = elbo(model, b, eps=e)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    t0 = time.perf_counter()
    for b, e in zip(batches, noise):
        out = elbo(model, b, eps=e)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--only", default="", help="time only the models whose name contains this text")
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "bench_models.md"))
    args = p.parse_args()
    keep_freed_memory()
    x = load_dataset("binarized-mnist", data_dir=args.data_dir).train[: args.steps * 100]
    lines = ["| model | s per epoch (500 steps), model | standard VAE, same pairs | ratio per pair (median, min-max) |",
             "|---|---|---|---|"]
    for name, config in MODELS.items():
        if args.only not in name:
            continue
        per_epoch = lambda cfg: lambda r: step_time(cfg, x, args.steps, r) * 500 / args.steps  # noqa: E731
        line = paired_row(name, args.repeats, per_epoch({}), per_epoch(config))
        print(line, flush=True)
        lines.append(line)
    lines += ["", f"{args.repeats} pairs of {args.steps} steps each (an epoch is 500 steps of 100 images); default "
              "network MLP 200-200 tanh, latent 50, fp32, exact gradients."]
    write_section(Path(args.out), "Training cost of the model family against the standard VAE", lines)


if __name__ == "__main__":
    main()
