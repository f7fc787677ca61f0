"""Shared helpers for benchmarks: machine description and writing result tables into docs/."""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import sys
from datetime import date
from pathlib import Path
from typing import Callable

import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = os.environ.get("VAELAB_DATA_DIR", str(REPO.parent / "shared" / "data"))

# The foundation issue's benchmark model: MLP 784-512-512, latent 32, ReLU, Bernoulli, batch 128, Adam 1e-3
# at a constant rate, no warm-up, no weight averaging, no early stopping (what the reference loop does).
BENCH = dict(dataset="binarized-mnist", arch="mlp", hidden=(512, 512), latent_dim=32, activation="relu",
             likelihood="bernoulli", batch_size=128, lr=1e-3, samples=1, lr_decay=1.0, warmup_epochs=0.0,
             ema_decay=0.0, patience=None, max_minutes=None)


def machine() -> str:
    """One line naming the CPU (or GPU), core count and torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
            f"{gpu}, Python {platform.python_version()}")


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])


def paired_row(name: str, pairs: int, standard: Callable[[int], float], model: Callable[[int], float]) -> str:
    """Time the standard VAE, then the model, ``pairs`` times (each callable takes the pair's index) and return
    the table row: both medians and the median (min-max) of the per-pair ratios."""
    base, mine = [], []
    for i in range(pairs):
        base.append(standard(i))
        mine.append(model(i))
    ratios = [m / b for m, b in zip(mine, base)]
    return (f"| {name} | {statistics.median(mine):.2f} | {statistics.median(base):.2f} | "
            f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")


def write_section(path: Path, title: str, lines: list[str]) -> None:
    """Write a markdown result file: title, date, machine, command, then ``lines``."""
    text = [f"## {title}", "", f"- date: {date.today().isoformat()}", f"- machine: {machine()}",
            f"- command: `{command_line()}`", "", *lines, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text))
    print(f"wrote {path}")


def replace_marked(text: str, name: str, body: str) -> str:
    """``text`` with the block between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` replaced by ``body``
    (appended at the end when absent): several scripts write their own part of one docs page."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    if begin in text and end in text:
        return text[: text.index(begin)] + block + text[text.index(end) + len(end):].lstrip("\n")
    return text.rstrip("\n") + "\n\n" + block


def marked(text: str, name: str) -> str | None:
    """The block ``replace_marked`` wrote (with its markers), or None."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin in text and end in text:
        return text[text.index(begin): text.index(end) + len(end)] + "\n"
    return None
