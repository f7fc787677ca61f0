"""Options and output shared by the figure and anomaly commands (sample, reconstruct, ..., score)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterable


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory written by vaelab train")


def print_paths(paths: Iterable[Path | str], what: str = "wrote") -> None:
    """One line per written file, so scripts can pick them up."""
    for path in paths:
        print(f"{what} {path}")


def progress_bar(quiet: bool):
    """A ``progress(spec, done, total)`` callback drawing one tqdm bar per input on stderr (None when quiet)."""
    if quiet:
        return None
    import sys

    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(spec: str, done: int, total: int) -> None:
        bar = bars.get(spec)
        if bar is None:
            bar = bars[spec] = tqdm(total=total, desc=f"scoring {spec}", unit="img", file=sys.stderr, leave=False,
                                    dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress
