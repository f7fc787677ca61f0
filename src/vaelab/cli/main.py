"""The ``vaelab`` command: a thin layer that parses options and calls the importable modules.

Errors caused by the user's input (VaelabError) are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from vaelab.cli import (anomaly_eval_cmd, compare_cmd, curves_cmd, decode_cmd, demo, encode_cmd, eval_cmd,
                        gradvar_cmd, interpolate_cmd, latents_cmd, manifold_cmd, reconstruct_cmd, recipes_cmd,
                        report_cmd, sample_cmd, score_cmd, serve_cmd, train_cmd)
from vaelab.errors import VaelabError

COMMANDS = (train_cmd, demo, eval_cmd, gradvar_cmd, sample_cmd, reconstruct_cmd, interpolate_cmd, manifold_cmd,
            latents_cmd, curves_cmd, report_cmd, score_cmd, anomaly_eval_cmd, encode_cmd, decode_cmd, compare_cmd,
            serve_cmd, recipes_cmd)


def build_parser() -> argparse.ArgumentParser:
    from vaelab import __version__

    parser = argparse.ArgumentParser(
        prog="vaelab", description="Variational auto-encoders: train, measure and look at them.")
    parser.add_argument("--version", action="version", version=f"vaelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    datasets = sub.add_parser("datasets", help="list the named data sets")
    datasets.set_defaults(func=_list_datasets)
    return parser


def _list_datasets(args: argparse.Namespace) -> None:
    from vaelab.data import DATASETS

    print("\n".join(f"{k:16s} {v}" for k, v in DATASETS.items()))


TORCH_FREE = ("datasets", "recipes")  # commands that never compute with torch


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status. Without ``argv`` this is the program itself
    (a process of vaelab's own), which computes with subnormal floats flushed to zero (vaelab.utils.denormals);
    called with ``argv`` from other code, it leaves that process's arithmetic alone."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None and args.command not in TORCH_FREE:
        from vaelab.utils.denormals import flush_denormals_in_process

        flush_denormals_in_process()  # before torch starts its worker threads: they copy the setting
    try:
        result = args.func(args)
    except VaelabError as exc:
        print(f"vaelab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaelab: interrupted (the last finished epoch is checkpointed; continue with --resume)",
              file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
