"""Polyak weight averaging, the recipe defaults and the compile rule."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import vaelab
from vaelab.cli.main import main
from vaelab.errors import ConfigError
from vaelab.models.batched import evaluate
from vaelab.training import TrainConfig, train
from vaelab.training.ema import WeightAverage
from vaelab.training.policies import COMPILE_MIN_EXAMPLES, compile_pays

SMALL = dict(dataset="digits", hidden=(32,), latent_dim=3, batch_size=64, device="cpu", warmup_epochs=0)


def test_average_follows_the_weights_with_a_warmed_up_decay_and_restores_the_raw_ones():
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    avg = WeightAverage(layer, decay=0.99)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    avg.update()  # first update: decay min(0.99, 1/10) = 0.1, so the average moves 90% of the way
    assert torch.allclose(avg.average[0], torch.full((1, 2), 0.9))
    with torch.no_grad():
        layer.weight.fill_(2.0)
    avg.update()  # decay min(0.99, 2/11)
    expect = 0.9 * 2 / 11 + 2.0 * 9 / 11
    assert torch.allclose(avg.average[0], torch.full((1, 2), expect))
    with avg.applied():
        assert torch.allclose(layer.weight, torch.full((1, 2), expect))
    assert torch.equal(layer.weight, torch.full((1, 2), 2.0))
    for _ in range(5000):
        avg.update()
    assert avg.average[0].sub(2.0).abs().max() < 1e-6  # a constant sequence: the average converges to it
    other = WeightAverage(layer, decay=0.99)
    other.load_state_tensors(avg.state_tensors())
    assert other.updates == avg.updates and torch.equal(other.average[0], avg.average[0])


def test_best_model_holds_the_averaged_weights_and_raw_ones_are_logged(tmp_path):
    run = train(TrainConfig.from_dict(dict(**SMALL, epochs=3, ema_decay=0.9, out=str(tmp_path / "r"))), quiet=True)
    best = max(run.metrics, key=lambda r: r["valid_elbo"])
    assert all("valid_elbo_raw_weights" in r for r in run.metrics)
    assert any(r["valid_elbo_raw_weights"] != r["valid_elbo"] for r in run.metrics)
    loaded = vaelab.load(run.run_dir)
    data = vaelab.load_dataset("digits")
    again = evaluate(loaded.model, data.valid, batch_size=run.config.eval_batch_size, seed=run.config.seed)
    assert again["elbo"] == pytest.approx(best["valid_elbo"], abs=1e-4)


def test_defaults_are_the_quality_recipe():
    c = TrainConfig.from_dict(dict())
    assert (c.model.hidden, c.model.activation, c.model.latent_dim, c.batch_size, c.lr) == ((200, 200), "tanh", 50, 100,
                                                                                         1e-3)
    assert (c.lr_decay, c.warmup_epochs, c.ema_decay, c.patience, c.epochs, c.max_minutes) == (
        0.999, 50.0, 0.999, 200, 3000, 60.0)
    assert c.objective == "elbo" and c.beta == 1.0 and c.compile is None


def test_zero_turns_patience_and_time_limit_off_and_bad_averaging_is_refused():
    c = TrainConfig.from_dict(dict(patience=0, max_minutes=0))
    assert c.patience is None and c.max_minutes is None
    with pytest.raises(ConfigError, match="ema_decay must be in"):
        TrainConfig.from_dict(dict(ema_decay=1.0))


def test_compile_only_pays_for_long_runs():
    cpu = torch.device("cpu")
    assert compile_pays(COMPILE_MIN_EXAMPLES - 1, cpu) is False
    assert compile_pays(3000 * 50000, cpu) is (__import__("shutil").which("g++") is not None)


def test_cli_resume_keeps_the_runs_patience_and_time_limit(tmp_path):
    out = tmp_path / "r"
    args = ["train", "--dataset", "digits", "--hidden", "16", "--latent-dim", "2", "--warmup-epochs", "0",
            "--device", "cpu", "--quiet", "--out", str(out)]
    assert main([*args, "--epochs", "1", "--patience", "7", "--max-minutes", "30"]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "2", "--quiet"]) == 0
    saved = json.loads((out / "config.json").read_text())["train"]
    assert (saved["epochs"], saved["patience"], saved["max_minutes"], saved["compile"]) == (2, 7, 30.0, False)
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_init_from_starts_a_new_run_at_another_runs_best_weights(tmp_path):
    a = train(TrainConfig.from_dict(dict(**SMALL, epochs=2, out=str(tmp_path / "a"))), quiet=True)
    b = train(TrainConfig.from_dict(dict(**SMALL, epochs=1, lr=1e-12, init_from=str(a.run_dir), objective="iwae", k=4,
                          out=str(tmp_path / "b"))), quiet=True)
    assert b.metrics[0]["valid_elbo"] == pytest.approx(max(r["valid_elbo"] for r in a.metrics), abs=1e-3)
    assert json.loads((b.run_dir / "config.json").read_text())["train"]["init_from"] == str(a.run_dir)
    with pytest.raises(vaelab.errors.VaelabError, match="do not fit the model"):
        train(TrainConfig.from_dict(dict(**{**SMALL, "hidden": (8,)}, epochs=1, init_from=str(a.run_dir),
                          out=str(tmp_path / "c"))), quiet=True)
    with pytest.raises(ConfigError, match="expected a run directory holding model.safetensors"):
        train(TrainConfig.from_dict(dict(**SMALL, epochs=1, init_from=str(tmp_path / "nowhere"), out=str(tmp_path / "d"))),
              quiet=True)


def test_a_run_written_before_weight_averaging_resumes_without_it(tmp_path):
    run = train(TrainConfig.from_dict(dict(**SMALL, epochs=1, ema_decay=0, out=str(tmp_path / "old"))), quiet=True)
    path = run.run_dir / "config.json"
    doc = json.loads(path.read_text())
    del doc["train"]["ema_decay"], doc["train"]["init_from"]  # what an earlier vaelab wrote
    path.write_text(json.dumps(doc))
    resumed = train(TrainConfig.from_dict(dict(epochs=2)), resume=run.run_dir, quiet=True)
    assert [r["epoch"] for r in resumed.metrics] == [1, 2] and resumed.config.ema_decay == 0.0
    assert "valid_elbo_raw_weights" not in resumed.metrics[-1]
