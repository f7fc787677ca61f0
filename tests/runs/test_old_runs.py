"""Run directories written by vaelab 0.1 (config.json format 1, committed as fixtures) load, evaluate, resume
and serve with this version: config.json and the checkpoint keys are a public format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import vaelab
from vaelab.cli.main import main
from vaelab.models.batched import evaluate
from vaelab.runs.config import TrainConfig
from vaelab.training.loop import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def _copy(name: str, tmp_path: Path) -> Path:
    """A writable copy of a committed fixture run (latent 8, hidden 64, 1 epoch on the bundled digits)."""
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def test_fixtures_are_format_1():
    for name in ("format1-vae-digits", "format1-ae-digits"):
        doc = json.loads((FIXTURES / name / "config.json").read_text())
        assert "format" not in doc and doc["vaelab_version"] == "0.1.0"
        assert isinstance(doc["train"]["model"], str) and "latent_dim" in doc["train"]  # the flat layout


def test_old_vae_run_loads_with_its_config_migrated_and_its_test_elbo(tmp_path):
    run_dir = _copy("format1-vae-digits", tmp_path)
    run = vaelab.load(run_dir)
    assert run.config.model.kind == "vae" and run.config.model.latent_dim == 8 and run.config.model.hidden == (64,)
    assert run.model_config.likelihood == "gaussian" and run.model_config.image_shape == (1, 8, 8)
    assert run.model.has_density and len(run.metrics) == 1
    data = vaelab.load_dataset("digits")
    again = evaluate(run.model, data.test, batch_size=run.config.eval_batch_size, seed=run.config.seed)
    # the number vaelab 0.1 wrote, to float32 rounding: it was computed on another CPU, whose kernels round
    # differently (on an AVX-512 Xeon the mean over the 270 images differs by 1.5e-7 nats)
    assert again["elbo"] == pytest.approx(run.results["elbo"], rel=1e-7)


def test_old_vae_run_evaluates_from_the_command_line(tmp_path, capsys):
    run_dir = _copy("format1-vae-digits", tmp_path)
    assert main(["eval", str(run_dir), "-k", "50", "--quiet", "--device", "cpu"]) == 0
    result = json.loads((run_dir / "eval_test.json").read_text())
    assert result["n"] == 270 and result["k"] == 50
    assert result["log_likelihood"] >= result["elbo"] - 0.5  # IS log p(x) >= ELBO up to noise
    assert result["active_units"] <= 8 and len(result["kl_per_dim"]) == 8


def test_old_vae_run_resumes_as_a_new_run_trains(tmp_path):
    """The old checkpoint (Adam state, weight average, RNG states) continues to epoch 2 and ends where a run of this
    version trained for 2 epochs from the same (migrated) config ends. Equal to float32 rounding, not bit for bit:
    the fixture's first epoch was computed on another CPU (its kernels round differently from this one's AVX-512
    ones, by about 1e-7); a state restored wrongly moves them by far more (Adam's
    moments zeroed: the weights by 1e-2; the weight average zeroed: it, by 13)."""
    run_dir = _copy("format1-vae-digits", tmp_path)
    resumed = train(TrainConfig(epochs=2), resume=run_dir, quiet=True)
    assert [r["epoch"] for r in resumed.metrics] == [1, 2]
    config = TrainConfig.from_dict({**json.loads((run_dir / "config.json").read_text())["train"], "epochs": 2,
                                    "out": str(tmp_path / "fresh")})
    fresh = train(config, quiet=True)
    a, b = load_file(str(run_dir / "last.safetensors")), load_file(str(fresh.run_dir / "last.safetensors"))
    assert set(a) == set(b)
    assert all(torch.allclose(a[k].double(), b[k].double(), rtol=1e-5, atol=1e-6) for k in a)
    assert resumed.metrics[1]["valid_elbo"] == pytest.approx(fresh.metrics[1]["valid_elbo"], rel=1e-6)
    assert json.loads((run_dir / "config.json").read_text())["format"] == 2  # rewritten in the new format


def test_old_vae_run_serves(tmp_path):
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from vaelab.serving.app import create_app

    client = TestClient(create_app(_copy("format1-vae-digits", tmp_path)))
    info = client.get("/api/info").json()
    assert info["model"] == "vae" and info["latent_dim"] == 8 and info["image_shape"] == [1, 8, 8]
    assert client.post("/api/decode", json={"z": [[0.0] * 8]}).status_code == 200
    sample = client.post("/api/sample", json={"n": 2, "seed": 1}).json()
    assert len(sample["z"]) == 2 and len(sample["z"][0]) == 8
    assert client.get("/api/latent-map").status_code == 200


def test_old_autoencoder_run_loads_evaluates_and_resumes(tmp_path, capsys):
    run_dir = _copy("format1-ae-digits", tmp_path)
    run = vaelab.load(run_dir)
    assert run.config.model.kind == "ae" and not run.model.has_density
    assert main(["eval", str(run_dir), "--quiet", "--device", "cpu"]) == 0
    assert json.loads((run_dir / "eval_test.json").read_text())["model"] == "ae"
    resumed = train(TrainConfig(epochs=2), resume=run_dir, quiet=True)
    assert [r["epoch"] for r in resumed.metrics] == [1, 2]
