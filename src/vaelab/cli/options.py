"""Options and output shared by the commands: the run argument, --device, -k/--k, scoring inputs, progress."""

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


def int_list(text: str) -> tuple[int, ...]:
    """'512,512' -> (512, 512): comma-separated positive integers."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 512,512, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 512,512, got {text!r}")
    return values


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


def progress_bar(quiet: bool, what: str = "scoring", unit: str = "img"):
    """A ``progress(spec, done, total)`` callback drawing one bar per input on stderr (None when quiet)."""
    if quiet:
        return None
    from vaelab.utils.progress import ProgressBar

    bars: dict[str, ProgressBar] = {}

    def progress(spec: str, done: int, total: int) -> None:
        bar = bars.get(spec)
        if bar is None:
            bar = bars[spec] = ProgressBar(total, f"{what} {spec}", unit=unit)
        bar.update(done)
        if done >= total:
            bar.close()

    return progress


DEVICES = ("auto", "cpu", "cuda")  # the same as TrainConfig's (vaelab.runs.config.DEVICES)
DEVICE_HELP = "auto (a CUDA GPU when there is one, else the CPU), cpu or cuda (default auto)"


def add_device(p: argparse.ArgumentParser) -> None:
    """--device, meaning the same in every command."""
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)


def add_k(p: argparse.ArgumentParser, default: int, what: str = "importance samples per image") -> None:
    """-k / --k: the number of importance samples, spelled either way in every command."""
    p.add_argument("-k", "--k", dest="k", type=positive_int, default=default, help=f"{what} (default {default})")


INPUT_HELP = ("image file (PNG/JPEG), .npy/.npz file, image folder, or NAME:SPLIT[:LABELS] such as digits:test, "
              "binarized-mnist:test, mnist:test:9 or my.npz:valid")


def add_scoring_options(p: argparse.ArgumentParser) -> None:
    """The options of the commands that score inputs (score, anomaly-eval)."""
    add_k(p, 1000)
    p.add_argument("--limit", type=positive_int, help="score at most N seeded random images of each input")
    p.add_argument("--resize", action="store_true", help="resize images to the model's height x width (bilinear)")
    p.add_argument("--binarize", choices=("none", "threshold", "dynamic"),
                   help="binarize grayscale inputs: threshold at 0.5, or dynamic (one Bernoulli draw, seed 0) "
                        "(default: as the run's training data were)")
    p.add_argument("--data-dir", help="data root for named data sets other than the run's own (default: the run's "
                   "--data-dir, else $VAELAB_DATA_DIR, else ~/.cache/vaelab/data)")
    p.add_argument("--batch-size", type=positive_int, default=100, help="images per batch (default 100)")
    p.add_argument("--seed", type=int, default=0)
    add_device(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_method_options(p: argparse.ArgumentParser) -> None:
    """--method and its settings, for the commands that score inputs (score, anomaly-eval). Names are checked
    when the command runs, so a wrong one gets vaelab's one-line error."""
    from vaelab.runs.anomaly_config import (COMPRESSORS, DEFAULT_COMPRESSOR, DEFAULT_METHOD, DEFAULT_REGRET_STEPS,
                                            METHODS)

    g = p.add_argument_group("anomaly score (higher = more anomalous; docs/anomaly.md)")
    g.add_argument("--method", metavar="METHOD",
                   help="; ".join(f"{name}: {what}" for name, what in METHODS.items()) +
                        f" (default {DEFAULT_METHOD}" + ("; nll for a run on a table)" if DEFAULT_METHOD == "complexity"
                                                         else ")"))
    g.add_argument("--batch", type=positive_int, default=1, metavar="M",
                   help="typicality: score batches of M inputs together (default 1: each input, |-log p(x) - H|)")
    g.add_argument("--background", metavar="RUN", help="ratio: the background run, trained with "
                   "vaelab train --background-of RUN, or 'pixels': independent per-pixel histograms of the run's "
                   "training split (no training; a run directory named pixels: ./pixels)")
    g.add_argument("--regret-steps", type=positive_int, default=DEFAULT_REGRET_STEPS, metavar="N",
                   help=f"regret: Adam steps of fine-tuning the encoder on each input (default {DEFAULT_REGRET_STEPS})")
    g.add_argument("--compressor", default=DEFAULT_COMPRESSOR, metavar="NAME",
                   help=f"complexity: {', '.join(COMPRESSORS)} (default {DEFAULT_COMPRESSOR})")


def method_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of vaelab.evaluation.anomaly's scoring functions from --method and its settings."""
    return dict(method=args.method, batch=args.batch, background=args.background, regret_steps=args.regret_steps,
                compressor=args.compressor)


def load_run(args: argparse.Namespace, which: str = "best"):
    """The run of ``args.run`` on the device of ``args.device``."""
    from vaelab.runs import load, resolve_device

    return load(args.run, device=resolve_device(args.device), which=which)
