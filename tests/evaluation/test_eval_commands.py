"""vaelab eval and gradvar on real runs; training with the IWAE objective and the other estimators."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from vaelab.cli.main import main
from vaelab.training import TrainConfig, train

SMALL = dict(dataset="digits", hidden=(64,), latent_dim=4, batch_size=64, device="cpu", epochs=3, warmup_epochs=0)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return train(TrainConfig.from_dict(dict(**SMALL, out=str(tmp_path_factory.mktemp("runs") / "vae"))), quiet=True)


def test_eval_reports_elbo_log_likelihood_and_active_units(vae_run, capsys):
    assert main(["eval", str(vae_run.run_dir), "--k", "200", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "log p(x), importance sampled (IWAE k=200)" in printed and "active units" in printed
    r = json.loads((vae_run.run_dir / "eval_test.json").read_text())
    assert r["n"] == 270 and r["k"] == 200 and r["split"] == "test"
    assert r["elbo"] == pytest.approx(vae_run.results["elbo"], abs=1e-9)  # same seed, same ELBO as training
    assert r["log_likelihood"] > r["elbo"]  # IWAE_200 >= ELBO
    assert r["log_likelihood"] - r["elbo"] < r["kl"] + 5  # ... but not absurdly far above it
    assert r["nll"] == pytest.approx(-r["log_likelihood"])
    assert 0 <= r["active_units"] <= 4 and len(r["kl_per_dim"]) == 4
    assert sum(r["kl_per_dim"]) == pytest.approx(r["kl"], rel=1e-6)
    assert r["log_likelihood_stderr"] > 0


def test_eval_of_an_autoencoder_says_why_there_is_no_likelihood(tmp_path, capsys):
    run = train(TrainConfig.from_dict(dict(**{**SMALL, "epochs": 1}, model="ae", out=str(tmp_path / "ae"))), quiet=True)
    assert main(["eval", str(run.run_dir), "--quiet"]) == 0
    assert "defines no density p(x)" in capsys.readouterr().out
    r = json.loads((run.run_dir / "eval_test.json").read_text())
    assert "log_likelihood" not in r and math.isfinite(r["reconstruction"])


def test_eval_bad_input(vae_run, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing")]) == 2
    assert "config.json: not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", str(vae_run.run_dir), "--max-memory", "lots"])
    assert "expected a size like 512M" in capsys.readouterr().err


def test_gradvar_shows_score_function_noisier_than_pathwise(vae_run, capsys):
    assert main(["gradvar", str(vae_run.run_dir), "--draws", "20", "--batch-size", "32"]) == 0
    doc = json.loads((vae_run.run_dir / "gradvar.json").read_text())
    rows = {(r["estimator"], r["group"]): r for r in doc["rows"]}
    assert rows[("score-function", "encoder")]["variance"] > 10 * rows[("pathwise", "encoder")]["variance"]
    # the decoder's gradient is the same estimator in all three: variances agree closely
    assert rows[("stl", "decoder")]["variance"] == pytest.approx(rows[("pathwise", "decoder")]["variance"])
    assert rows[("pathwise", "total")]["parameters"] == sum(p.numel() for p in vae_run.model.parameters())
    with Image.open(vae_run.run_dir / "gradvar.png") as im:
        assert im.format == "PNG" and im.size[0] > 500 and im.size[1] > 300
    assert "| score-function | encoder |" in capsys.readouterr().out


@pytest.mark.parametrize("extra", [dict(objective="iwae", k=5), dict(estimator="score-function"),
                                   dict(estimator="stl"), dict(estimator="score-function", baseline=False)])
def test_training_with_other_objectives_and_estimators(tmp_path, extra):
    run = train(TrainConfig.from_dict(dict(**{**SMALL, "epochs": 2}, **extra, out=str(tmp_path / "r"))), quiet=True)
    assert math.isfinite(run.results["elbo"])
    last = run.metrics[-1]
    assert last["valid_elbo"] > -200
    if extra.get("objective") == "iwae":
        assert last["train_iwae"] >= last["train_elbo"]  # IWAE_5 >= ELBO on the same batches
    doc = json.loads((run.run_dir / "config.json").read_text())
    assert all(doc["train"][k] == v for k, v in extra.items())


def test_score_function_baseline_survives_resume(tmp_path):
    cfg = dict(**{**SMALL, "epochs": 3}, estimator="score-function")
    full = train(TrainConfig.from_dict(dict(**cfg, out=str(tmp_path / "full"))), quiet=True)
    part = train(TrainConfig.from_dict(dict(**{**cfg, "epochs": 1}, out=str(tmp_path / "part"))), quiet=True)
    resumed = train(TrainConfig.from_dict(dict(epochs=3)), resume=part.run_dir, quiet=True)
    a = load_file(str(full.run_dir / "last.safetensors"))
    b = load_file(str(resumed.run_dir / "last.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("args,message", [
    (["--objective", "iwae", "--estimator", "stl"], "uses the pathwise or the dreg estimator"),
    (["--k", "5"], "use it with --objective iwae"),
    (["--objective", "iwae", "--k", "0"], "k (importance samples) must be >= 1"),
])
def test_bad_objective_options(args, message, tmp_path, capsys):
    assert main(["train", "--dataset", "digits", "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
