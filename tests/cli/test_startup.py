"""Start-up: `vaelab --help` and every command's `--help` answer in under a second, because the command line is
built without any heavy import (torch, numpy, pandas, tensorboard, matplotlib, scipy, scikit-learn)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from vaelab.cli.main import COMMANDS

HEAVY = ("torch", "numpy", "pandas", "pyarrow", "tensorboard", "matplotlib", "scipy", "sklearn", "PIL", "tqdm")
NAMES = [None, "datasets"] + [m.__name__.rsplit(".", 1)[-1].removesuffix("_cmd").replace("_", "-") for m in COMMANDS]


def test_building_the_command_line_imports_nothing_heavy():
    probe = (f"import sys; from vaelab.cli.main import build_parser; build_parser(); "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


@pytest.mark.parametrize("command", NAMES)
def test_help_answers_in_under_a_second(command):
    args = [sys.executable, "-m", "vaelab", *([command] if command else []), "--help"]
    best = float("inf")
    for _ in range(3):  # the best of three: a busy machine should not fail the test
        t0 = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        best = min(best, time.perf_counter() - t0)
        assert out.returncode == 0, out.stderr
        assert "usage: vaelab" in out.stdout
    assert best < 1.0, f"vaelab {command or ''} --help took {best:.2f} s"
