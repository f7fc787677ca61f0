"""BENCH: the reference model (MLP 784-512-512, latent 32, ReLU, Bernoulli, batch 128, Adam 1e-3)
on static binarized MNIST for 5 epochs; prints seconds per epoch (train loop only) and the test ELBO.

    python benchmarks/bench_train.py [--data-dir ../shared/data] [--epochs 5] [--seeds 0]

Writes docs/benchmarks/bench_train.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import BENCH, DEFAULT_DATA, REPO, write_section

import vaelab



def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "bench_train.md"))
    args = p.parse_args()
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = vaelab.TrainConfig.from_dict(dict(**BENCH, device="auto", data_dir=args.data_dir, epochs=args.epochs, seed=seed,
                                     precision=args.precision, out=str(Path(tmp) / "run")))
            run = vaelab.train(cfg, quiet=True)
        secs = [r["seconds"] for r in run.metrics]
        rows.append((seed, secs, statistics.median(secs), run.results["elbo"], run.results["elbo_stderr"]))
        print(f"seed {seed}: s/epoch {['%.2f' % s for s in secs]} median {statistics.median(secs):.2f}; "
              f"test ELBO {run.results['elbo']:.2f} ± {run.results['elbo_stderr']:.2f}")
    lines = ["| seed | s/epoch (each epoch, train loop only) | median s/epoch | test ELBO after "
             f"{args.epochs} epochs (nats) |", "|---|---|---|---|"]
    for seed, secs, med, elbo, se in rows:
        lines.append(f"| {seed} | {', '.join(f'{s:.2f}' for s in secs)} | {med:.2f} | {elbo:.2f} ± {se:.2f} |")
    write_section(Path(args.out), f"BENCH training, {args.epochs} epochs, binarized-mnist, {args.precision}", lines)


if __name__ == "__main__":
    main()
