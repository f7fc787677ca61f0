"""Several saved runs side by side (``vaelab compare``, the report's comparison section): one row per run read
from its files, and a paired significance note for two runs evaluated on the same images.

A row: the model and its parts, parameters, epochs, training time (the epochs' seconds summed), test ELBO with its
standard error (results.json), test NLL with its standard error and active units where ``vaelab eval`` has
written eval_test.json. Two runs whose eval_test.json have the same image fingerprint (``images_sha256``) and
both saved each image's log p(x) (eval_test_log_px.npy) get a paired comparison: the mean per-image difference
in log p(x) with its standard error and a paired t-test. Paired, because most of the spread of log p(x) is
between images (some digits are easy for every model), which an unpaired comparison would count as noise.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vaelab.errors import ConfigError
from vaelab.runs.files import read_config, read_metrics, read_results

SPLIT = "test"


@dataclass
class RunRow:
    """One run's line of the comparison (None where the run has no such number)."""

    run: str
    model: str  # kind, prior, posterior, layers, likelihood
    network: str  # arch, hidden sizes, latent size
    parameters: int
    epochs: int
    train_seconds: float
    test_elbo: float | None
    test_elbo_stderr: float | None
    test_nll: float | None
    test_nll_stderr: float | None
    k: int | None
    active_units: str | None  # "a of D"
    images_sha256: str | None


@dataclass
class PairedNote:
    """Run a against run b on the same images: mean of log p_a(x) - log p_b(x) over the images."""

    a: str
    b: str
    n: int
    mean_difference: float  # nats; > 0: run a assigns the images a higher likelihood
    stderr: float
    t: float
    p_value: float

    def text(self) -> str:
        better, worse = (self.a, self.b) if self.mean_difference >= 0 else (self.b, self.a)
        verdict = "significant at 5%" if self.p_value < 0.05 else "not significant at 5%"
        return (f"{better} vs {worse}: log p(x) higher by {abs(self.mean_difference):.3f} ± {self.stderr:.3f} "
                f"nats per image on the same {self.n} test images (paired t = {abs(self.t):.2f}, "
                f"p = {self.p_value:.3g}, "
                f"{verdict})")


def _parameters(run_dir: Path) -> int:
    from vaelab.models import build_model

    _, model_config, _ = read_config(run_dir)
    return sum(p.numel() for p in build_model(model_config).parameters())


def _evaluation(run_dir: Path) -> dict[str, Any]:
    """RUN/eval_test.json (written by vaelab eval), or {} when the run was not evaluated."""
    path = Path(run_dir) / f"eval_{SPLIT}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def run_row(run_dir: str | Path) -> RunRow:
    """The comparison row of one run directory (read from its files; the model is built to count parameters)."""
    run_dir = Path(run_dir)
    config, mc, _ = read_config(run_dir)
    metrics, results = read_metrics(run_dir), read_results(run_dir) or {}
    ev = _evaluation(run_dir)
    parts = [mc.kind]
    if mc.kind != "ae":
        parts += [f"prior {mc.prior}", f"q {mc.posterior}"] + (["2 layers"] if mc.stochastic_layers == 2 else [])
    parts += [mc.likelihood or "?"] + (["conditional"] if mc.condition != "none" else [])
    network = f"{mc.arch} {'-'.join(map(str, mc.hidden))}, latent {mc.latent_dim}" + (" gated" if mc.gated else "")
    return RunRow(
        run=run_dir.name, model=", ".join(parts), network=network, parameters=_parameters(run_dir),
        epochs=int(results.get("epochs_run", len(metrics))),
        train_seconds=float(sum(r.get("epoch_seconds", r.get("seconds", 0.0)) for r in metrics)),
        test_elbo=results.get("elbo"), test_elbo_stderr=results.get("elbo_stderr"),
        test_nll=ev.get("nll"), test_nll_stderr=ev.get("log_likelihood_stderr"), k=ev.get("k"),
        active_units=f"{ev['active_units']} of {ev['latent_dim']}" if "active_units" in ev else None,
        images_sha256=ev.get("images_sha256"))


def paired_note(run_a: str | Path, run_b: str | Path) -> PairedNote | None:
    """The paired comparison of two runs' per-image test log p(x), or None when they were not evaluated on the
    same images (or did not save per-image values)."""
    from scipy import stats

    sha = [_evaluation(Path(r)).get("images_sha256") for r in (run_a, run_b)]
    if sha[0] is None or sha[0] != sha[1]:
        return None
    files = [Path(r) / f"eval_{SPLIT}_log_px.npy" for r in (run_a, run_b)]
    if not all(f.is_file() for f in files):
        return None
    a, b = (np.load(f) for f in files)
    if a.shape != b.shape or a.size < 2:
        return None
    d = a - b
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    t, p = stats.ttest_rel(a, b)
    return PairedNote(Path(run_a).name, Path(run_b).name, int(d.size), float(d.mean()), se, float(t), float(p))


def compare_runs(run_dirs: Sequence[str | Path]) -> tuple[list[RunRow], list[PairedNote]]:
    """The rows of every run and the paired notes of every pair evaluated on the same images."""
    if not run_dirs:
        raise ConfigError("no runs given (expected one or more run directories)")
    rows = [run_row(r) for r in run_dirs]
    notes = [n for a, b in combinations(run_dirs, 2) if (n := paired_note(a, b)) is not None]
    return rows, notes


# ------------------------------------------------------------------------------------- formats
HEADER = ("run", "model", "network", "parameters", "epochs", "train time", "test ELBO", "test NLL (k)",
          "active units")


def _pm(value: float | None, se: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" ± {se:.2f}" if se is not None and not math.isnan(se) else "")


def row_cells(r: RunRow) -> list[str]:
    nll = _pm(r.test_nll, r.test_nll_stderr) + (f" ({r.k})" if r.k else "")
    return [r.run, r.model, r.network, f"{r.parameters:,}", str(r.epochs), f"{r.train_seconds:.0f} s",
            _pm(r.test_elbo, r.test_elbo_stderr), nll if r.test_nll is not None else "-", r.active_units or "-"]


def text_table(rows: Sequence[RunRow], notes: Sequence[PairedNote] = ()) -> str:
    """An aligned terminal table, then the paired notes."""
    cells = [list(HEADER)] + [row_cells(r) for r in rows]
    widths = [max(len(c[j]) for c in cells) for j in range(len(HEADER))]
    lines = ["  ".join(c[j].ljust(widths[j]) for j in range(len(HEADER))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + [n.text() for n in notes])


def markdown_table(rows: Sequence[RunRow], notes: Sequence[PairedNote] = ()) -> str:
    """A Markdown table (nats per example), then the paired notes as a list."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row_cells(r)) + " |" for r in rows]
    if notes:
        lines += [""] + [f"- {n.text()}" for n in notes]
    return "\n".join(lines)


def csv_table(rows: Sequence[RunRow]) -> str:
    """CSV with one column per RunRow field (numbers unformatted)."""
    buf = io.StringIO()
    fields = list(asdict(rows[0])) if rows else []
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow(asdict(r))
    return buf.getvalue()


def as_dict(rows: Sequence[RunRow], notes: Sequence[PairedNote]) -> dict[str, Any]:
    return {"runs": [asdict(r) for r in rows], "paired": [asdict(n) for n in notes]}
