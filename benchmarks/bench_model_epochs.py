"""Epoch time of a model of the family against the standard VAE's, in the training loop itself (500 steps of
100 images, the validation passes of the averaged and the raw weights, the weight average), pair by pair.

    python benchmarks/bench_model_epochs.py [--pairs 5] [--epochs 3] [--only VampPrior]

Each pair trains the standard VAE, then the model, for --epochs epochs of binarized MNIST (default network
MLP 200-200 tanh, latent 50, batch 100, fp32, no compilation) and takes each run's median epoch_seconds over
its epochs after the first. Writes docs/benchmarks/bench_model_epochs.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from common import DEFAULT_DATA, REPO, paired_row, write_section

import vaelab

MODELS = {
    "VampPrior, K = 500": dict(prior="vamp", pseudo_inputs=500),
    "VampPrior, K = 100": dict(prior="vamp", pseudo_inputs=100),
    "two layers + VampPrior, K = 500": dict(stochastic_layers=2, prior="vamp", pseudo_inputs=500),
}


def epoch_seconds(model: dict, epochs: int, data_dir: str, out: Path) -> float:
    config = vaelab.TrainConfig(dataset="binarized-mnist", data_dir=data_dir, epochs=epochs, compile=False,
                                max_minutes=None, out=str(out), model=vaelab.ModelConfig(**model))
    vaelab.train(config, quiet=True)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["epoch_seconds"] for r in rows[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--only", default="", help="time only the models whose name contains this text")
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "bench_model_epochs.md"))
    args = p.parse_args()
    lines = ["| model | s per epoch, model | standard VAE, same pairs | ratio per pair (median, min-max) |",
             "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in MODELS.items():
            if args.only not in name:
                continue
            run = lambda cfg, tag: lambda i: epoch_seconds(  # noqa: E731
                cfg, args.epochs, args.data_dir, Path(tmp) / f"{tag}-{name}-{i}")
            line = paired_row(name, args.pairs, run({}, "standard"), run(model, "model"))
            print(line, flush=True)
            lines.append(line)
    lines += ["", f"{args.pairs} pairs; each figure the median epoch time (training steps, the validation ELBO of "
              "the averaged and the raw weights, the weight average) over epochs 2 to "
              f"{args.epochs} of a run; default network MLP 200-200 tanh, latent 50, batch 100, fp32, exact "
              "gradients, no compilation."]
    write_section(Path(args.out), "Epoch time in the training loop against the standard VAE", lines)


if __name__ == "__main__":
    main()
