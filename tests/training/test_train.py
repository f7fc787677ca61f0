"""The training loop: run directory contents, exact resume, NaN guard, warm-up, early stopping."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch
from safetensors.torch import load_file

import vaelab
from vaelab.errors import ConfigError, TrainingDiverged, VaelabError
from vaelab.runs.checkpoint import LAST
from vaelab.training import TrainConfig, train
from vaelab.training.policies import EarlyStopping, KLSchedule, TimeLimit, decay_learning_rate, selection_score

SMALL = dict(dataset="digits", hidden=(32,), latent_dim=3, batch_size=64, device="cpu", warmup_epochs=0)


def test_run_directory_holds_complete_config_weights_and_metrics(tmp_path):
    run = train(TrainConfig.from_dict(dict(**SMALL, epochs=2, out=str(tmp_path / "r"))), quiet=True)
    files = {p.name for p in run.run_dir.iterdir()}
    assert {"config.json", "model.safetensors", "last.safetensors", "metrics.jsonl", "results.json"} <= files
    assert not [f for f in files if f.endswith(".tmp")]  # atomic writes leave no temp files
    doc = json.loads((run.run_dir / "config.json").read_text())
    assert doc["train"]["epochs"] == 2 and doc["model"]["likelihood"] == "gaussian"  # resolved default
    assert doc["model"]["image_shape"] == [1, 8, 8] and doc["data"]["kind"] == "continuous"
    lines = [json.loads(l) for l in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    for key in ("train_elbo", "train_kl", "train_reconstruction", "valid_elbo", "valid_kl", "seconds",
                "examples_per_second"):
        assert math.isfinite(lines[-1][key])
    assert lines[-1]["valid_elbo"] == pytest.approx(lines[-1]["valid_reconstruction"] - lines[-1]["valid_kl"])
    assert lines[-1]["train_kl"] > 0
    last = load_file(str(run.run_dir / "last.safetensors"))
    assert any(k.startswith("optim.") for k in last) and "rng.torch" in last and "rng.data" in last


def test_config_json_reproduces_the_run(tmp_path):
    a = train(TrainConfig.from_dict(dict(**SMALL, epochs=2, seed=3, out=str(tmp_path / "a"))), quiet=True)
    doc = json.loads((a.run_dir / "config.json").read_text())
    b = train(TrainConfig.from_dict({**doc["train"], "out": str(tmp_path / "b")}), quiet=True)
    wa, wb = load_file(str(a.run_dir / "model.safetensors")), load_file(str(b.run_dir / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.results["elbo"] == b.results["elbo"]


def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    full = train(TrainConfig.from_dict(dict(**SMALL, epochs=4, out=str(tmp_path / "full"))), quiet=True)
    part = train(TrainConfig.from_dict(dict(**SMALL, epochs=2, out=str(tmp_path / "part"))), quiet=True)
    resumed = train(TrainConfig.from_dict(dict(epochs=4)), resume=part.run_dir, quiet=True)
    for name in ("last.safetensors", "model.safetensors"):
        wa, wb = load_file(str(full.run_dir / name)), load_file(str(resumed.run_dir / name))
        assert all(torch.equal(wa[k], wb[k]) for k in wa), name
    assert [r["valid_elbo"] for r in full.metrics] == [r["valid_elbo"] for r in resumed.metrics]


def test_load_gives_back_the_model_with_the_same_test_elbo(tmp_path):
    run = train(TrainConfig.from_dict(dict(**SMALL, epochs=2, out=str(tmp_path / "r"))), quiet=True)
    loaded = vaelab.load(run.run_dir)
    data = vaelab.load_dataset("digits")
    from vaelab.models.batched import evaluate

    again = evaluate(loaded.model, data.test, seed=run.config.seed)
    assert again["elbo"] == pytest.approx(run.results["elbo"], abs=1e-9)
    assert loaded.config.epochs == 2 and loaded.model_config.latent_dim == 3


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from vaelab.models import objectives

    real = objectives.elbo
    calls = {"n": 0}

    def poisoned(model, x, *args, **kwargs):
        out = real(model, x, *args, **kwargs)
        if model.training:
            calls["n"] += 1
            if calls["n"] > 25:  # epoch 1 has 20 steps of 64 on 1257 digits; poison epoch 2
                out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(objectives, "elbo", poisoned)
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 2"):
        train(TrainConfig.from_dict(dict(**SMALL, epochs=3, out=str(tmp_path / "r"))), quiet=True)
    monkeypatch.undo()
    last = load_file(str(tmp_path / "r" / "last.safetensors"))
    assert all(torch.isfinite(v).all() for k, v in last.items() if k.startswith("model."))
    loaded = vaelab.load(tmp_path / "r")
    assert [r["epoch"] for r in loaded.metrics] == [1]


def test_kl_warmup_is_linear_then_beta():
    kl_weight = KLSchedule(beta=1.0, warmup_epochs=2, steps_per_epoch=100)
    assert kl_weight(0) == 0.0
    assert kl_weight(100) == pytest.approx(0.5)
    assert kl_weight(200) == 1.0 and kl_weight(1000) == 1.0
    assert KLSchedule(beta=0.5, warmup_epochs=0, steps_per_epoch=100)(3) == 0.5


def test_early_stopping_policy_counts_epochs_without_a_better_score():
    stopping = EarlyStopping(patience=2)
    assert [stopping.update(s) for s in (-10.0, -5.0, -6.0)] == [True, True, False]
    assert not stopping.should_stop and stopping.best == -5.0
    assert stopping.update(-7.0) is False and stopping.should_stop
    never = EarlyStopping(patience=None)
    for s in range(-100, -200, -1):
        never.update(float(s))
    assert not never.should_stop


def test_selection_score_is_the_trained_bound():
    assert selection_score({"elbo": -90.0, "iwae": -88.0}) == -88.0  # IWAE runs select on IWAE_k
    assert selection_score({"elbo": -90.0, "reconstruction": -60.0}) == -90.0
    assert selection_score({"reconstruction": -60.0}) == -60.0  # the autoencoder


def test_lr_schedule_and_time_limit_policies():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert decay_learning_rate(opt, 0.5) == 0.5 and decay_learning_rate(opt, 0.5) == 0.25
    assert TimeLimit(None).exceeded() is False and TimeLimit(60.0).exceeded() is False
    tiny = TimeLimit(1e-6)  # 60 microseconds
    time.sleep(0.01)
    assert tiny.exceeded() is True


def test_early_stopping_in_the_loop(tmp_path, monkeypatch):
    import vaelab.training.loop as loop

    scores = iter([-10.0, -5.0, -6.0, -7.0, -8.0, -9.0])
    monkeypatch.setattr(loop, "selection_score", lambda valid: next(scores))
    run = train(TrainConfig.from_dict(dict(**SMALL, epochs=6, patience=2, ema_decay=0, out=str(tmp_path / "r"))), quiet=True)
    assert [r["epoch"] for r in run.metrics] == [1, 2, 3, 4]
    assert run.results["stopped_early"] and run.results["best_epoch"] == 2


def test_starting_a_new_run_in_an_existing_run_directory_is_refused(tmp_path):
    train(TrainConfig.from_dict(dict(**SMALL, epochs=1, out=str(tmp_path / "r"))), quiet=True)
    with pytest.raises(VaelabError, match="already holds a run: use --resume"):
        train(TrainConfig.from_dict(dict(**SMALL, epochs=1, out=str(tmp_path / "r"))), quiet=True)


def test_autoencoder_baseline_trains_and_reports_reconstruction_only(tmp_path):
    run = train(TrainConfig.from_dict(dict(**SMALL, model="ae", epochs=2, out=str(tmp_path / "ae"))), quiet=True)
    assert "elbo" not in run.results and math.isfinite(run.results["reconstruction"])
    assert "valid_reconstruction" in run.metrics[-1] and "valid_kl" not in run.metrics[-1]


def test_lr_decay_schedule_and_time_limit(tmp_path):
    run = train(TrainConfig.from_dict(dict(**SMALL, epochs=3, lr=1e-3, lr_decay=0.5, out=str(tmp_path / "d"))), quiet=True)
    assert [r["lr"] for r in run.metrics] == pytest.approx([5e-4, 2.5e-4, 1.25e-4])
    resumed_part = train(TrainConfig.from_dict(dict(**SMALL, epochs=1, lr=1e-3, lr_decay=0.5, out=str(tmp_path / "p"))), quiet=True)
    resumed = train(TrainConfig.from_dict(dict(epochs=3)), resume=resumed_part.run_dir, quiet=True)
    assert [r["lr"] for r in resumed.metrics] == pytest.approx([5e-4, 2.5e-4, 1.25e-4])
    a = load_file(str(run.run_dir / "last.safetensors"))
    b = load_file(str(resumed.run_dir / "last.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    limited = train(TrainConfig.from_dict(dict(**SMALL, epochs=50, max_minutes=1e-6, out=str(tmp_path / "t"))), quiet=True)
    assert len(limited.metrics) == 1 and limited.results["time_limited"] is True


def test_iwae_training_selects_the_best_model_by_the_valid_iwae_bound(tmp_path):
    run = train(TrainConfig.from_dict(dict(**SMALL, epochs=3, objective="iwae", k=8, out=str(tmp_path / "iw"))), quiet=True)
    bounds = [r["valid_iwae"] for r in run.metrics]
    assert all(r["valid_iwae"] >= r["valid_elbo"] - 0.5 for r in run.metrics)  # IWAE_8 >= ELBO up to noise
    best = max(range(3), key=lambda i: bounds[i])
    assert run.results["best_epoch"] == best + 1
    assert [r["best"] for r in run.metrics][best] is True


def test_background_run_perturbs_its_inputs_and_resumes_exactly(tmp_path):
    from vaelab.runs.config import BACKGROUND_PERTURBATION, BACKGROUND_WEIGHT_DECAY

    base = train(TrainConfig.from_dict(dict(**SMALL, epochs=1, out=str(tmp_path / "base"))), quiet=True)
    config = lambda epochs, name, **kw: base.config.for_background(  # noqa: E731
        str(base.run_dir), epochs=epochs, out=str(tmp_path / name), **kw)
    assert config(4, "c").perturbation == BACKGROUND_PERTURBATION
    assert config(4, "c").weight_decay == BACKGROUND_WEIGHT_DECAY
    full = train(config(4, "full", weight_decay=1e-3), quiet=True)
    part = train(config(2, "part", weight_decay=1e-3), quiet=True)
    resumed = train(TrainConfig.from_dict(dict(epochs=4)), resume=part.run_dir, quiet=True)
    wa, wb = load_file(str(full.run_dir / LAST)), load_file(str(resumed.run_dir / LAST))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # the perturbation draws continue where they stopped
    clean = train(config(4, "clean", perturbation=0.0, weight_decay=1e-3), quiet=True)
    wc = load_file(str(clean.run_dir / LAST))
    weights = [k for k in wa if k.startswith("model.encoder.") and k.endswith("weight")]
    assert weights and not any(torch.equal(wa[k], wc[k]) for k in weights)  # the inputs were perturbed
    doc = json.loads((full.run_dir / "config.json").read_text())["train"]
    assert doc["background_of"] == str(base.run_dir) and doc["perturbation"] == BACKGROUND_PERTURBATION


@pytest.mark.parametrize("field,value,message", [("perturbation", 1.5, "perturbation must be a rate in [0, 1]"),
                                                 ("weight_decay", -1.0, "weight_decay must be >= 0")])
def test_bad_background_settings_are_refused(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("[", "\\[").replace("]", "\\]")):
        TrainConfig.from_dict({**SMALL, field: value})
