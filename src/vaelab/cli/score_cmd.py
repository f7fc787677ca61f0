"""``vaelab score RUN INPUT...``: an anomaly score per input image (table on stdout, CSV file), by one of the
methods of vaelab.runs.anomaly_scores (--method)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.options import (INPUT_HELP, add_method_options, add_run, add_scoring_options, load_run,
                                method_options, print_paths, progress_bar)

MAX_ROWS = 40  # per-image rows printed; more go to the CSV only


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="anomaly scores of inputs (-log p(x), complexity, typicality, ratio, regret), "
                                     "table and CSV",
                       description="Anomaly score of each input in nats, higher = more anomalous: -log p(x) "
                                   "(importance-sampled with k samples) or a correction of it (--method).")
    add_run(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    add_scoring_options(p)
    add_method_options(p)
    p.add_argument("--out", help="CSV path (default RUN/scores.csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.data.tables import table_scaling
    from vaelab.evaluation.anomaly import make_scorer, prepare_specs, run_inputs_loader, score_prepared, \
        write_scores_csv

    run_ = load_run(args)
    scorer = make_scorer(run_, k=args.k, seed=args.seed, batch_size=args.batch_size, **method_options(args))
    prepared = prepare_specs(run_, args.inputs, resize=args.resize, binarize=args.binarize, limit=args.limit,
                             seed=args.seed, loader=run_inputs_loader(run_, args.data_dir))
    sets = score_prepared(scorer, prepared, progress_bar(args.quiet))
    rows = sum(len(s.names) for s in sets)
    print(scorer.describe())
    scaling = table_scaling(run_.data_info)
    if scaling is not None and scorer.method == "nll":
        print(f"a table: scores are of the standardised rows; in the table's raw units -log p(x) is the score plus "
              f"sum_j log sigma_j = {scaling.log_scale:.4f} (the same ranking)")
    if rows <= MAX_ROWS:
        width = max(len(n) for s in sets for n in s.names) if rows else 5
        print(f"{'image':<{width}}  {'score':>12}")
        for s in sets:
            for name, v in zip(s.names, s.scores):
                print(f"{name:<{width}}  {v:12.2f}")
    width = max(len(s.spec) for s in sets)
    print(f"{'input':<{width}}  {'n':>6}  {'mean':>10}  {'median':>10}  {'min':>10}  {'max':>10}")
    for s in sets:
        m = s.summary()
        print(f"{s.spec:<{width}}  {m['n']:>6}  {m['mean']:10.2f}  {m['median']:10.2f}  {m['min']:10.2f}  "
              f"{m['max']:10.2f}")
    out = Path(args.out) if args.out else Path(args.run) / "scores.csv"
    print_paths([write_scores_csv(out, sets)])
    return 0
