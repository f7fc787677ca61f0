"""``vaelab eval RUN_DIR``: test ELBO, importance-sampled log p(x), active units; table + RUN/eval_<split>.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.options import add_device, add_k
from vaelab.errors import ConfigError


def parse_memory(text: str) -> int:
    """'2G', '512M', '1e9' -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b")
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 512M or 2G, got {text!r}") from None
    if value < 1 << 20:
        raise argparse.ArgumentTypeError(f"--max-memory must be at least 1M, got {text!r}")
    return int(value)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="test ELBO and importance-sampled log-likelihood of a run (nats per example)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    add_k(p, 5000, "importance samples per example")
    p.add_argument("--max-memory", type=parse_memory, default="1G",
                   help="bound on activation memory per chunk of samples (default 1G)")
    p.add_argument("--batch-size", type=int, default=100, help="images per batch of the ELBO pass and of the "
                   "importance sampler (default 100)")
    p.add_argument("--limit", type=int, help="evaluate only the first N examples of the split")
    p.add_argument("--seed", type=int, default=0)
    add_device(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def table_units(run, result: dict) -> str | None:
    """For a run on a table: the units of its numbers, added to ``result`` (log p(x) in raw units too)."""
    from vaelab.data.tables import table_scaling

    scaling = table_scaling(run.data_info)
    if scaling is None:
        return None
    result["units"] = "standardised columns"
    result["log_scale"] = scaling.log_scale  # sum_j log sigma_j
    if "log_likelihood" in result:
        result["log_likelihood_raw_units"] = result["log_likelihood"] - scaling.log_scale
    raw = result.get("log_likelihood_raw_units")
    return (f"a table: these are nats of the standardised rows; in the table's raw units log p(x) = the above - "
            f"sum_j log sigma_j (= {scaling.log_scale:.4f})" + (f": {raw:.2f} nats" if raw is not None else ""))


def run(args: argparse.Namespace) -> int:
    from vaelab.evaluation.run_eval import evaluate_run, format_table, save_eval
    from vaelab.runs import load, load_data, resolve_device
    from vaelab.runs.data import condition_labels
    from vaelab.utils.progress import ProgressBar

    if args.k < 1 or args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        raise ConfigError("--k, --batch-size and --limit must be >= 1")
    device = resolve_device(args.device)
    run = load(args.run_dir, device=device)
    data = load_data(run.config)
    x, y = data.split(args.split), condition_labels(run.model, data, args.split)  # y: labels of a conditional model
    if args.limit:
        x, y = x[: args.limit], None if y is None else y[: args.limit]
    x, y = x.to(device), None if y is None else y.to(device)
    with ProgressBar(x.shape[0], f"IS log p(x), k={args.k}", unit="img", quiet=args.quiet) as bar:
        result = evaluate_run(run.model, x, split=args.split, k=args.k, batch_size=args.batch_size,
                              max_memory=args.max_memory, seed=args.seed, progress=bar.update, y=y)
    result["run_dir"] = str(Path(args.run_dir))
    note = table_units(run, result)
    path = save_eval(Path(args.run_dir), result)
    print(format_table(result))
    if note:
        print(note)
    print(f"wrote {path}")
    return 0
