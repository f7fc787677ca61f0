"""``vaelab anomaly-eval RUN --normal ... --anomalous ...``: ROC-AUC, average precision and a calibrated threshold."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.options import (INPUT_HELP, add_method_options, add_run, add_scoring_options, load_run,
                                method_options, positive_int, print_paths, progress_bar)


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rate in (0, 1) like 0.05, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a rate in (0, 1) like 0.05, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("anomaly-eval", help="ROC curve, ROC-AUC and average precision of an anomaly score "
                                            "(--method) between a normal and an anomalous set, with a calibrated "
                                            "threshold")
    add_run(p)
    p.add_argument("--normal", nargs="+", required=True, metavar="INPUT", help="normal inputs: " + INPUT_HELP)
    p.add_argument("--anomalous", nargs="+", required=True, metavar="INPUT", help="anomalous inputs")
    p.add_argument("--fpr", type=fraction, default=0.05, help="false-positive rate the threshold is calibrated "
                   "to (default 0.05)")
    p.add_argument("--calibration", metavar="INPUT", help="normal data for the threshold (default: the run's "
                   "valid split)")
    p.add_argument("--calibration-limit", type=positive_int, default=1000,
                   help="seeded random images of the calibration set (default 1000)")
    add_scoring_options(p)
    add_method_options(p)
    p.add_argument("--out", help="output folder (default RUN/anomaly): anomaly.json, scores.csv, roc.png")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from vaelab.evaluation.anomaly import evaluate_detection, save_evaluation
    from vaelab.visualisation.roc import save_roc

    run_ = load_run(args)
    result, normal, anomalous, cal = evaluate_detection(
        run_, args.normal, args.anomalous, calibration=args.calibration, k=args.k, fpr=args.fpr,
        resize=args.resize, binarize=args.binarize, limit=args.limit, calibration_limit=args.calibration_limit,
        seed=args.seed, batch_size=args.batch_size, progress=progress_bar(args.quiet), data_dir=args.data_dir,
        **method_options(args))
    title = f"normal: {', '.join(args.normal)}\nanomalous: {', '.join(args.anomalous)}"
    out = Path(args.out) if args.out else Path(args.run) / "anomaly"
    paths = save_evaluation(out, result, normal, anomalous, cal)
    paths["roc"] = save_roc(out / "roc.png", result, np.concatenate([s.scores for s in normal]),
                            np.concatenate([s.scores for s in anomalous]), title)
    for line in result.summary_lines():
        print(line)
    print_paths(paths.values())
    return 0
