"""`vaelab compare` and the report's comparison section: the table's numbers are the runs' own files', and two
runs evaluated on the same images get a paired t-test that matches scipy's on the saved per-image log p(x)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from scipy import stats

import vaelab
from vaelab.cli.main import main
from vaelab.runs.compare import compare_runs


def _train(out, **overrides):
    config = dict(dataset="digits", hidden=(16,), latent_dim=2, epochs=2, batch_size=64, seed=0, device="cpu",
                  warmup_epochs=0, out=str(out))
    return vaelab.train(vaelab.TrainConfig.from_dict({**config, **overrides}), quiet=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    a, b = _train(root / "a"), _train(root / "b", latent_dim=3, epochs=3)
    for run in (a, b):
        assert main(["eval", str(run.run_dir), "-k", "20", "--quiet", "--limit", "100"]) == 0
    return a, b


def test_table_rows_are_the_runs_numbers(runs, capsys):
    a, b = runs
    rows, notes = compare_runs([a.run_dir, b.run_dir])
    ev = json.loads((b.run_dir / "eval_test.json").read_text())
    assert [r.run for r in rows] == ["a", "b"]
    assert rows[1].parameters == sum(p.numel() for p in b.model.parameters())
    assert rows[1].epochs == 3 and rows[1].test_elbo == pytest.approx(b.results["elbo"])
    assert rows[1].test_nll == pytest.approx(ev["nll"]) and rows[1].k == 20
    assert rows[1].active_units == f"{ev['active_units']} of 3"
    assert rows[1].train_seconds == pytest.approx(sum(m["epoch_seconds"] for m in b.metrics))
    # the same 100 test images: a paired t-test on the per-image log p(x)
    assert len(notes) == 1
    la, lb = np.load(a.run_dir / "eval_test_log_px.npy"), np.load(b.run_dir / "eval_test_log_px.npy")
    nll_a = json.loads((a.run_dir / "eval_test.json").read_text())["nll"]
    assert la.shape == (100,) and la.mean() == pytest.approx(-nll_a)
    assert notes[0].mean_difference == pytest.approx(float((la - lb).mean()))
    assert notes[0].p_value == pytest.approx(stats.ttest_rel(la, lb).pvalue)


def test_compare_command_formats_and_curves(runs, tmp_path, capsys):
    a, b = runs
    assert main(["compare", str(a.run_dir), str(b.run_dir), "--markdown", "--curves", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| run | model |") and "paired t" in out and (tmp_path / "c.png").stat().st_size > 1000
    assert main(["compare", str(a.run_dir), str(b.run_dir), "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(r["test_elbo"]) for r in table] == pytest.approx([a.results["elbo"], b.results["elbo"]])


def test_report_gets_a_comparison_section(runs, tmp_path):
    a, b = runs
    assert main(["report", str(a.run_dir), "--compare", str(b.run_dir), "--out", str(tmp_path / "r.html"),
                 "--grid", "4"]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "<h2>Comparison</h2>" in page and "paired t" in page and "comparison curves" in page
