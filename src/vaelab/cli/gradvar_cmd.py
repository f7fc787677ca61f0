"""``vaelab gradvar RUN_DIR``: variance and SNR of the ELBO gradient per estimator at the run's checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vaelab.cli.options import add_device, load_run
from vaelab.errors import ConfigError
from vaelab.models.config import ESTIMATORS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gradvar", help="variance of the ELBO gradient for each estimator at a run's checkpoint")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--draws", type=int, default=100, help="gradient draws per estimator (default 100)")
    p.add_argument("--samples", type=int, default=1, help="z samples per example in each draw (default 1)")
    p.add_argument("--batch-size", type=int, default=100, help="examples in the fixed minibatch (default 100)")
    p.add_argument("--estimators", default=",".join(ESTIMATORS), help="comma-separated (default: all three)")
    p.add_argument("--no-baseline", action="store_true", help="score-function without its control variate")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--seed", type=int, default=0)
    add_device(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from vaelab.evaluation.gradvar import format_rows, gradient_variance_table
    from vaelab.visualisation.gradvar_plot import plot_rows
    from vaelab.runs import load_data
    from vaelab.utils.atomic import write_json_atomic, write_text_atomic

    estimators = tuple(e.strip() for e in args.estimators.split(",") if e.strip())
    bad = [e for e in estimators if e not in ESTIMATORS]
    if bad or not estimators:
        raise ConfigError(f"unknown estimator(s) {bad}: expected some of {', '.join(ESTIMATORS)}")
    if args.draws < 2 or args.samples < 1 or args.batch_size < 1:
        raise ConfigError("--draws must be >= 2 (a variance needs two draws); --samples and --batch-size >= 1")
    args.run = args.run_dir
    run = load_run(args, which=args.checkpoint)
    if not run.model.has_density:
        raise ConfigError("gradvar needs a VAE run: a deterministic autoencoder has no ELBO gradient estimators")
    data = load_data(run.config)
    idx = torch.randperm(data.train.shape[0], generator=torch.Generator().manual_seed(args.seed))[: args.batch_size]
    x = data.train[idx]
    if data.dynamic_binarization:
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(args.seed))
    x = x.to(next(run.model.parameters()).device)
    run.model.train()
    rows = gradient_variance_table(run.model, x, draws=args.draws, samples=args.samples, estimators=estimators,
                                   use_baseline=not args.no_baseline, seed=args.seed)
    out = Path(args.run_dir)
    table = format_rows(rows)
    write_json_atomic(out / "gradvar.json", {"batch_size": x.shape[0], "checkpoint": args.checkpoint,
                                             "baseline": not args.no_baseline, "rows": rows})
    write_text_atomic(out / "gradvar.md", table + "\n")
    plot_rows(rows, out / "gradvar.png")
    print(table)
    print(f"wrote {out / 'gradvar.json'}, {out / 'gradvar.md'}, {out / 'gradvar.png'}")
    return 0
