"""The model family in one sitting: each model trained for the same wall-clock minutes on binarized MNIST (the
default recipe's network and optimiser, --no-compile), then `vaelab eval -k K` on all 10,000 test images.

    python benchmarks/family_runs.py --minutes 8 --k 1000 --runs-dir ../runs/family

Runs one model after another (never two at once, so each has the machine to itself); a finished run directory
is evaluated again only if its eval JSON is missing. Writes docs/benchmarks/family_runs.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import DEFAULT_DATA, REPO, write_section

MODELS = {
    "standard VAE": [],
    "VampPrior, K = 500": ["--prior", "vamp", "--pseudo-inputs", "500"],
    "mixture-of-Gaussians prior, K = 10": ["--prior", "mog", "--components", "10"],
    "IAF posterior, 2 steps": ["--posterior", "iaf", "--flow-steps", "2"],
    "planar flow, 4 steps": ["--posterior", "planar", "--flow-steps", "4"],
    "two stochastic layers": ["--stochastic-layers", "2"],
    "two layers + VampPrior, K = 500": ["--stochastic-layers", "2", "--prior", "vamp", "--pseudo-inputs", "500"],
    "gated layers": ["--gated"],
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--warmup-epochs", type=float, default=10.0)
    p.add_argument("--runs-dir", default=str(REPO.parent / "runs" / "family"))
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--only", nargs="*", help="names (or slugs) of the models to run")
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "family_runs.md"))
    args = p.parse_args()
    runs = Path(args.runs_dir)
    rows = []
    for name, extra in MODELS.items():
        run_dir = runs / slug(name)
        if args.only and name not in args.only and slug(name) not in args.only:
            continue
        if not (run_dir / "results.json").is_file():
            cmd = [sys.executable, "-m", "vaelab", "train", "--dataset", "binarized-mnist", "--data-dir", args.data_dir,
                   "--max-minutes", str(args.minutes), "--warmup-epochs", str(args.warmup_epochs), "--no-compile",
                   "--seed", "0", "--quiet", "--out", str(run_dir), *extra]
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        if not (run_dir / "eval_test.json").is_file():
            subprocess.run([sys.executable, "-m", "vaelab", "eval", str(run_dir), "-k", str(args.k), "--quiet"],
                           check=True, stdout=subprocess.DEVNULL)
        res = json.loads((run_dir / "results.json").read_text())
        ev = json.loads((run_dir / "eval_test.json").read_text())
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
        train_minutes = sum(m["epoch_seconds"] for m in metrics) / 60
        layers = ", ".join(f"{n}: {v['active_units']}/{v['size']}, KL {v['kl']:.1f}"
                           for n, v in ev.get("layers", {}).items())
        row = (f"| {name} | {len(metrics)} | {train_minutes:.1f} | {res['elbo']:.2f} ± {res['elbo_stderr']:.2f} | "
               f"{ev['log_likelihood']:.2f} ± {ev['log_likelihood_stderr']:.2f} | "
               f"{ev['active_units']}/{ev['latent_dim']}{f' ({layers})' if layers else ''} | {ev['is_seconds'] / 60:.1f} |")
        print(row, flush=True)
        rows.append(row)
    lines = ["| model | epochs | training minutes | test ELBO | test log p(x), IS k = %d | active units | eval IS minutes |"
             % args.k, "|---|---|---|---|---|---|---|", *rows, "",
             f"Each model: `vaelab train --dataset binarized-mnist --max-minutes {args.minutes:g} --warmup-epochs "
             f"{args.warmup_epochs:g} --no-compile --seed 0` plus its options (the script's MODELS), then `vaelab eval "
             f"RUN -k {args.k}` on all 10,000 test images; the models ran one after another on the same machine."]
    write_section(Path(args.out), f"The model family, {args.minutes:g} minutes each", lines)


if __name__ == "__main__":
    main()
