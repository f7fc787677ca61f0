"""``vaelab score RUN INPUT...``: anomaly score -log p(x) per input image (table on stdout, CSV file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.options import INPUT_HELP, add_run, add_scoring_options, load_run, print_paths, progress_bar

MAX_ROWS = 40  # per-image rows printed; more go to the CSV only


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="anomaly score -log p(x) of inputs (importance sampling), table and CSV",
                       description="Anomaly score = -log p(x) in nats, estimated with k importance samples; higher "
                                   "means less likely under the model.")
    add_run(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    add_scoring_options(p)
    p.add_argument("--out", help="CSV path (default RUN/scores.csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.evaluation.anomaly import score_specs, write_scores_csv

    run_ = load_run(args)
    sets = score_specs(run_, args.inputs, args.k, resize=args.resize, binarize=args.binarize, limit=args.limit,
                       seed=args.seed, batch_size=args.batch_size, progress=progress_bar(args.quiet),
                       data_dir=args.data_dir)
    rows = sum(len(s.names) for s in sets)
    print(f"anomaly score = -log p(x), nats, k = {args.k} importance samples (higher = less likely)")
    from vaelab.data.tables import table_scaling

    scaling = table_scaling(run_.data_info)
    if scaling is not None:
        print(f"a table: scores are of the standardised rows; in the table's raw units -log p(x) is the score plus "
              f"sum_j log sigma_j = {scaling.log_scale:.4f} (the same ranking)")
    if rows <= MAX_ROWS:
        width = max(len(n) for s in sets for n in s.names)
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
