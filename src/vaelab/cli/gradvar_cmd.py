"""``vaelab gradvar RUN_DIR``: variance and SNR of the gradient per estimator at the run's checkpoint; for the
IWAE bound, SNR against k with the fitted slope (--objective iwae --k 1,5,50,200)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.options import add_device, int_list, load_run
from vaelab.errors import ConfigError
from vaelab.models.config import ELBO_ESTIMATORS, IWAE_ESTIMATORS, OBJECTIVES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gradvar", help="variance and SNR of the gradient for each estimator at a run's checkpoint "
                                       "(the ELBO's, or the IWAE bound's against k)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--objective", choices=OBJECTIVES, default="elbo",
                   help="elbo (estimators pathwise, score-function, stl) or iwae (pathwise, dreg; SNR against --k)")
    p.add_argument("-k", "--k", type=int_list, default=(1, 5, 50, 200),
                   help="with --objective iwae: the numbers of importance samples (default 1,5,50,200)")
    p.add_argument("--draws", type=int, help="gradient draws per estimator (and k) (default 100 for the ELBO, "
                                             "1000 for IWAE)")
    p.add_argument("--samples", type=int, default=1, help="ELBO: z samples per example in each draw (default 1)")
    p.add_argument("--batch-size", type=int, default=100, help="examples in the fixed minibatch (default 100)")
    p.add_argument("--estimators", help="comma-separated (default: all of the objective's; those the model cannot "
                                        "use are left out with a note)")
    p.add_argument("--no-baseline", action="store_true", help="score-function without its control variate")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default RUN_DIR): gradvar[-iwae].json, .md, .png")
    add_device(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from vaelab.evaluation.gradvar import (format_rows, format_snr_rows, gradient_variance_table, snr_against_k,
                                           snr_slopes)
    from vaelab.runs import load_data
    from vaelab.runs.data import condition_labels
    from vaelab.utils.atomic import write_json_atomic, write_text_atomic
    from vaelab.visualisation.gradvar_plot import plot_rows, plot_snr

    allowed = IWAE_ESTIMATORS if args.objective == "iwae" else ELBO_ESTIMATORS
    estimators = tuple(e.strip() for e in (args.estimators or ",".join(allowed)).split(",") if e.strip())
    bad = [e for e in estimators if e not in allowed]
    if bad or not estimators:
        raise ConfigError(f"unknown estimator(s) {bad} for --objective {args.objective}: expected some of "
                          f"{', '.join(allowed)}")
    draws = args.draws or (1000 if args.objective == "iwae" else 100)
    if draws < 2 or args.samples < 1 or args.batch_size < 1:
        raise ConfigError("--draws must be >= 2 (a variance needs two draws); --samples and --batch-size >= 1")
    args.run = args.run_dir
    run = load_run(args, which=args.checkpoint)
    if not run.model.has_density:
        raise ConfigError("gradvar needs a VAE run: a deterministic autoencoder has no ELBO gradient estimators")
    data = load_data(run.config)
    idx = torch.randperm(data.train.shape[0], generator=torch.Generator().manual_seed(args.seed))[: args.batch_size]
    x = data.train[idx]
    y = condition_labels(run.model, data, "train")
    device = next(run.model.parameters()).device
    y = None if y is None else y[idx].to(device)
    if data.dynamic_binarization:
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(args.seed))
    x = x.to(device)
    run.model.train()
    out = Path(args.out) if args.out else Path(args.run_dir)
    common = {"batch_size": x.shape[0], "checkpoint": args.checkpoint, "draws": draws, "seed": args.seed}
    if args.objective == "iwae":
        rows = snr_against_k(run.model, x, args.k, estimators, draws, args.seed, y)
        slopes = snr_slopes(rows)
        table = format_snr_rows(rows, slopes)
        paths = [out / "gradvar-iwae.json", out / "gradvar-iwae.md", out / "gradvar-iwae.png"]
        write_json_atomic(paths[0], {**common, "objective": "iwae", "k": list(args.k), "rows": rows,
                                     "slopes": slopes})
        write_text_atomic(paths[1], table + "\n")
        plot_snr(rows, slopes, paths[2])
        print(table)
    else:
        skipped: dict[str, str] = {}
        rows = gradient_variance_table(run.model, x, draws=draws, samples=args.samples, estimators=estimators,
                                       use_baseline=not args.no_baseline, seed=args.seed, y=y,
                                       skipped=None if args.estimators else skipped)
        table = format_rows(rows)
        paths = [out / "gradvar.json", out / "gradvar.md", out / "gradvar.png"]
        write_json_atomic(paths[0], {**common, "objective": "elbo", "baseline": not args.no_baseline, "rows": rows,
                                     "skipped": skipped})
        write_text_atomic(paths[1], table + "\n")
        plot_rows(rows, paths[2])
        print(table)
        for est, why in skipped.items():
            print(f"{est}: left out ({why})")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
