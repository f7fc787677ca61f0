"""Before/after speed of a change: the BENCH training epoch and `vaelab eval -k 5000`, this checkout against
another git revision, timed pair by pair in one run (A B A B ..., so the machine's drift hits both alike).

    python benchmarks/bench_versions.py --base REV [--pairs 5] [--epochs 3] [--eval-images 500]

Each side runs as its own process with its own source tree on PYTHONPATH (the base revision is checked out
into a temporary git worktree). Training: the BENCH model (docs/benchmarks.md) for --epochs epochs; the
figure is the median per-epoch training time (metrics.jsonl "seconds", epochs 2..N). Evaluation: `vaelab eval
RUN -k 5000 --limit N` on one BENCH run trained by the base revision (both sides evaluate the same weights);
the figure is the importance-sampling time (eval JSON "is_seconds"). Writes docs/benchmarks/bench_versions.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BENCH, DEFAULT_DATA, REPO, write_section


def train_args(data_dir: str, epochs: int, out: Path) -> list[str]:
    b = BENCH
    return ["train", "--dataset", b["dataset"], "--data-dir", data_dir, "--hidden", ",".join(map(str, b["hidden"])),
            "--latent-dim", str(b["latent_dim"]), "--activation", b["activation"], "--likelihood", b["likelihood"],
            "--batch-size", str(b["batch_size"]), "--lr", str(b["lr"]), "--epochs", str(epochs),
            "--warmup-epochs", "0", "--ema-decay", "0", "--lr-decay", "1", "--patience", "0", "--max-minutes", "0",
            "--no-compile", "--device", "cpu", "--seed", "0", "--out", str(out), "--quiet"]


def vaelab(src: Path, args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-m", "vaelab", *args], check=True, env=env, stdout=subprocess.DEVNULL)


def epoch_seconds(run_dir: Path) -> float:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return statistics.median(r["seconds"] for r in records[1:] or records)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="HEAD", help="git revision to compare against (default HEAD)")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--eval-images", type=int, default=500)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "bench_versions.md"))
    args = p.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["git", "worktree", "add", "--detach", str(tmp / "base"), rev], cwd=REPO, check=True,
                       capture_output=True)
        try:
            sides = {"this checkout": REPO / "src", f"base {rev}": tmp / "base" / "src"}
            bench_run = tmp / "bench-run"
            vaelab(sides[f"base {rev}"], train_args(args.data_dir, 2, bench_run))  # the weights both evaluate
            train = {name: [] for name in sides}
            evals = {name: [] for name in sides}
            for i in range(args.pairs):
                for name, src in sides.items():
                    out = tmp / f"train-{i}-{name.split()[0]}"
                    vaelab(src, train_args(args.data_dir, args.epochs, out))
                    train[name].append(epoch_seconds(out))
                    vaelab(src, ["eval", str(bench_run), "--k", str(args.k), "--limit", str(args.eval_images),
                                 "--quiet", "--device", "cpu"])
                    evals[name].append(json.loads((bench_run / "eval_test.json").read_text())["is_seconds"])
                print(f"pair {i + 1}: " + ", ".join(f"{n}: epoch {train[n][-1]:.2f} s, eval {evals[n][-1]:.1f} s"
                                                   for n in sides), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "base")], cwd=REPO, capture_output=True)
    new, old = sides
    lines = ["| figure | " + " | ".join(sides) + " | ratio this/base per pair (median, min-max) |", "|---|---|---|---|"]
    for what, values in (("BENCH training epoch, s", train), (f"eval IS, {args.eval_images} images, k={args.k}, s",
                                                             evals)):
        ratios = [a / b for a, b in zip(values[new], values[old])]
        lines.append(f"| {what} | {statistics.median(values[new]):.2f} | {statistics.median(values[old]):.2f} | "
                     f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}) |")
    lines += ["", f"{args.pairs} pairs, each side a fresh process per figure (A B A B ...)."]
    write_section(Path(args.out), f"Speed before/after: this checkout vs {rev}", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
