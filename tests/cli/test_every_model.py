"""Every command works on every model of the family (short runs on the bundled digits), and what does not
apply says so in one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from vaelab.cli.main import main
from vaelab.runs import load
from vaelab.runs.config import TrainConfig
from vaelab.training.loop import train

BASE = dict(dataset="digits", hidden=(32,), latent_dim=4, batch_size=64, device="cpu", epochs=2, warmup_epochs=0,
            max_minutes=None, patience=None)
MODELS = {
    "vamp": dict(prior="vamp", pseudo_inputs=20),
    "mog": dict(prior="mog", components=5),
    "iaf": dict(posterior="iaf", flow_steps=2, flow_hidden=16),
    "planar": dict(posterior="planar", flow_steps=2),
    "hvae": dict(stochastic_layers=2, top_latent_dim=3, gated=True),
    "hvae-vamp": dict(stochastic_layers=2, prior="vamp", pseudo_inputs=20, free_bits=0.1),
    "cvae": dict(condition="label"),
}


@pytest.fixture(scope="module", params=list(MODELS))
def family_run(request, tmp_path_factory):
    extra = dict(MODELS[request.param])
    free_bits = extra.pop("free_bits", 0.0)
    out = tmp_path_factory.mktemp("family") / request.param
    cfg = TrainConfig.from_dict({**BASE, **extra, "free_bits": free_bits, "out": str(out)})
    return request.param, train(cfg, quiet=True)


def test_training_gives_a_finite_bound_and_resumes(family_run, tmp_path):
    name, run = family_run
    assert math.isfinite(run.results["elbo"]) and run.results["elbo"] > -200
    again = load(run.run_dir)
    assert again.model_config.to_dict() == run.model_config.to_dict()


def test_eval_reports_is_log_px_and_per_layer_figures(family_run, capsys):
    name, run = family_run
    assert main(["eval", str(run.run_dir), "-k", "20", "--quiet", "--device", "cpu"]) == 0
    doc = json.loads((run.run_dir / "eval_test.json").read_text())
    assert doc["log_likelihood"] >= doc["elbo"] - 1.0  # IWAE_20 >= ELBO up to noise
    if name.startswith("hvae"):
        assert set(doc["layers"]) == {"z1", "z2"} and all(v["kl"] >= -0.5 for v in doc["layers"].values())
    assert doc["conditional"] is (name == "cvae")


def test_figure_commands(family_run, capsys, tmp_path):
    name, run = family_run
    d = str(run.run_dir)
    assert main(["sample", d, "-n", "10", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["reconstruct", d, "-n", "4", "--out", str(tmp_path / "r.png")]) == 0
    assert main(["interpolate", d, "--from", "0", "--to", "1", "--steps", "3", "--out", str(tmp_path / "i.png")]) == 0
    assert main(["latents", d, "--out", str(tmp_path / "l.png")]) == 0
    assert main(["curves", d, "--out", str(tmp_path / "c.png")]) == 0
    assert main(["report", d, "--out", str(tmp_path / "report.html")]) == 0
    code = main(["manifold", d, "--grid", "3", "--out", str(tmp_path / "m.png")])
    if name.startswith("hvae"):
        assert code == 2 and "two stochastic layers" in capsys.readouterr().err
    else:
        assert code == 0


def test_scores_and_gradvar(family_run, capsys, tmp_path):
    name, run = family_run
    d = str(run.run_dir)
    assert main(["score", d, "digits:test", "-k", "5", "--limit", "8", "--quiet", "--out", str(tmp_path / "s.csv")]) == 0
    assert main(["anomaly-eval", d, "--normal", "digits:test:0-4", "--anomalous", "digits:test:5-9", "-k", "5",
                 "--limit", "10", "--calibration-limit", "10", "--quiet", "--out", str(tmp_path / "a")]) == 0
    assert main(["gradvar", d, "--draws", "3", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "| pathwise | encoder |" in out


def test_serving(family_run):
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from vaelab.serving.app import create_app

    name, run = family_run
    client = TestClient(create_app(run.run_dir))
    info = client.get("/api/info").json()
    assert info["latent_dim"] == run.model.latent_dim
    label = {"label": 3} if name == "cvae" else {}
    assert client.post("/api/sample", json={"n": 2, "seed": 0, **label}).status_code == 200
    assert client.post("/api/decode", json={"z": [[0.0] * run.model.latent_dim], **label}).status_code == 200
    assert client.get("/api/latent-map").status_code == 200
    if name == "cvae":  # the class picker's API: the classes, and one clear refusal without a label
        assert info["n_classes"] == 10 and info["class_names"][3] == "3"
        r = client.post("/api/decode", json={"z": [[0.0] * run.model.latent_dim]})
        assert r.status_code == 400 and "give the class label" in r.json()["detail"]
        assert client.post("/api/decode", json={"z": [[0.0] * run.model.latent_dim], "label": 10}).status_code == 422


def test_conditional_sampling_by_label_and_refusals(tmp_path, capsys, shared_data):
    run = train(TrainConfig.from_dict({**BASE, "condition": "label", "epochs": 1, "out": str(tmp_path / "c")}),
                quiet=True)
    assert main(["sample", str(run.run_dir), "-n", "4", "--label", "7", "--out", str(tmp_path / "7.png")]) == 0
    assert main(["sample", str(run.run_dir), "--label", "12", "--out", str(tmp_path / "x.png")]) == 2
    assert "not one of the trained classes 0..9" in capsys.readouterr().err
    code = main(["train", "--dataset", "binarized-mnist", "--data-dir", str(shared_data), "--condition",
                 "label", "--out", str(tmp_path / "b")])
    assert code == 2 and "binarized-mnist has none" in capsys.readouterr().err
    with torch.no_grad():
        x = torch.rand(3, 1, 8, 8)
        assert run.model.sample(2, y=3).shape == (2, 1, 8, 8)
        assert torch.isfinite(run.model(x, y=torch.tensor([0, 1, 2])).elbo).all()


@pytest.mark.parametrize("name", ["vamp", "hvae", "cvae", "iaf"])
def test_kill_and_resume_ends_bit_identical(name, tmp_path):
    extra = {k: v for k, v in MODELS[name].items() if k != "free_bits"}
    cfg = {**BASE, **extra, "epochs": 2}
    full = train(TrainConfig.from_dict({**cfg, "out": str(tmp_path / "full")}), quiet=True)
    part = train(TrainConfig.from_dict({**cfg, "epochs": 1, "out": str(tmp_path / "part")}), quiet=True)
    resumed = train(TrainConfig.from_dict({"epochs": 2}), resume=part.run_dir, quiet=True)
    from safetensors.torch import load_file

    a, b = load_file(str(full.run_dir / "last.safetensors")), load_file(str(resumed.run_dir / "last.safetensors"))
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["vamp", "iaf", "hvae-vamp", "cvae"])
def test_bf16_autocast_trains_every_model(name, tmp_path):
    extra = {k: v for k, v in MODELS[name].items() if k != "free_bits"}
    run = train(TrainConfig.from_dict({**BASE, **extra, "epochs": 1, "precision": "bf16", "out": str(tmp_path / "b")}),
                quiet=True)
    assert math.isfinite(run.results["elbo"]) and run.results["elbo"] > -200


@pytest.mark.parametrize("name", [n for n in MODELS if n != "cvae"])
def test_every_unconditional_model_trains_on_frey_face(name, tmp_path, shared_data):
    """Frey Face: 28x20 grayscale (a Gaussian likelihood), no labels."""
    extra = {k: v for k, v in MODELS[name].items() if k != "free_bits"}
    run = train(TrainConfig.from_dict({**BASE, **extra, "dataset": "frey-face", "data_dir": str(shared_data),
                                       "epochs": 1, "out": str(tmp_path / "f")}), quiet=True)
    assert run.model_config.likelihood == "gaussian" and run.model.image_shape == (1, 28, 20)
    assert math.isfinite(run.results["elbo"])
    with torch.no_grad():
        assert run.model.sample(3).shape == (3, 1, 28, 20)


def test_conditional_model_on_a_labelled_array_and_an_image_folder(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    images = rng.random((60, 12, 10)).astype(np.float32)
    labels = np.arange(60) % 3
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels)
    run = train(TrainConfig.from_dict({**BASE, "dataset": str(tmp_path / "x.npy"), "labels": str(tmp_path / "y.npy"),
                                       "condition": "label", "epochs": 1, "out": str(tmp_path / "a")}), quiet=True)
    assert run.model.n_classes == 3 and math.isfinite(run.results["elbo"])
    folder = tmp_path / "folder"
    for c in ("cat", "dog"):
        (folder / c).mkdir(parents=True)
        for i in range(12):
            Image.fromarray((rng.random((9, 7)) * 255).astype(np.uint8)).save(folder / c / f"{i}.png")
    run = train(TrainConfig.from_dict({**BASE, "dataset": str(folder), "condition": "label", "epochs": 1,
                                       "out": str(tmp_path / "b")}), quiet=True)
    assert run.model.n_classes == 2
    assert main(["sample", str(run.run_dir), "--label", "1", "-n", "2", "--out", str(tmp_path / "s.png")]) == 0
    code = main(["train", "--dataset", str(tmp_path / "x.npy"), "--condition", "label", "--epochs", "1",
                 "--out", str(tmp_path / "c")])
    assert code == 2 and "has none" in capsys.readouterr().err  # an array without --labels
