"""Anomaly detection: -log p(x) scores, ROC-AUC / AP, threshold calibration, input checks, the two commands."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

import vaelab
from vaelab.cli.main import main
from vaelab.data import load_dataset
from vaelab.data.inputs import fit_inputs, load_inputs
from vaelab.errors import DataError
from vaelab.evaluation.anomaly import (anomaly_scores, calibrate_threshold, detection_metrics, rates_at,
                                       score_specs)
from vaelab.models.importance import log_likelihood


def _train(out, **overrides):
    config = dict(dataset="digits", hidden=(64, 64), latent_dim=4, epochs=20, batch_size=64, seed=0, device="cpu",
                  warmup_epochs=0, out=str(out))
    return vaelab.train(vaelab.TrainConfig.from_dict(dict(**{**config, **overrides})), quiet=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A Gaussian VAE on the 8x8 digits."""
    return _train(tmp_path_factory.mktemp("anomaly") / "digits")


@pytest.fixture(scope="module")
def noise(tmp_path_factory):
    """100 uniform-noise 8x8 images as a .npy file."""
    path = tmp_path_factory.mktemp("noise") / "noise.npy"
    np.save(path, np.random.default_rng(0).random((100, 8, 8)).astype(np.float32))
    return path


def test_detection_metrics_on_known_scores():
    m = detection_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.0]))
    assert m["auroc"] == pytest.approx(5 / 6)  # 5 of the 6 (normal, anomalous) pairs ranked right
    # ranking by score: 4 (a), 3 (n), 2.5 (a), 2, 1: precision 1 at the first hit, 2/3 at the second
    assert m["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["roc_fpr"][0] == 0 and m["roc_tpr"][-1] == 1
    perfect = detection_metrics(np.arange(10.0), np.arange(10.0) + 100)
    assert perfect["auroc"] == 1 and perfect["average_precision"] == pytest.approx(1)
    assert detection_metrics(np.arange(10.0) + 100, np.arange(10.0))["auroc"] == 0


def test_threshold_flags_the_chosen_fraction_of_normal_data():
    scores = np.random.default_rng(1).permutation(np.arange(1.0, 101.0))
    t = calibrate_threshold(scores, 0.05)
    assert t == 95.0 and np.mean(scores > t) == pytest.approx(0.05)
    assert calibrate_threshold(scores, 0.0) == 100.0 and np.mean(scores > 100.0) == 0
    assert np.mean(scores > calibrate_threshold(scores, 0.123)) == pytest.approx(0.12)
    assert rates_at(95.0, scores, np.array([90.0, 96.0, 200.0, 300.0])) == (0.05, 0.75)


def test_scores_are_lower_for_training_like_data_than_for_noise(run, noise):
    model = run.model
    data = load_dataset("digits")
    x_noise = torch.from_numpy(np.load(noise))[:, None]
    normal = anomaly_scores(model, data.test[:100], k=64)
    anomalous = anomaly_scores(model, x_noise, k=64)
    assert normal.shape == (100,) and anomalous.shape == (100,)
    assert np.allclose(normal, -log_likelihood(model, data.test[:100], k=64).numpy())
    assert np.median(normal) + 30 < np.median(anomalous)  # noise is far less likely under a digit model
    assert detection_metrics(normal, anomalous)["auroc"] > 0.99


def test_score_command_table_and_csv(run, noise, tmp_path, capsys):
    img = tmp_path / "digit.png"
    digit = load_dataset("digits").test[0, 0]
    Image.fromarray((digit.numpy() * 255).round().astype(np.uint8)).save(img)
    out = tmp_path / "s.csv"
    assert main(["score", str(run.run_dir), str(img), str(noise), "digits:test:3", "-k", "32", "--limit", "10",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "anomaly score = -log p(x)" in printed and f"wrote {out}" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["input"] for r in rows].count(str(img)) == 1
    assert [r["input"] for r in rows].count(str(noise)) == 10
    assert [r["input"] for r in rows].count("digits:test:3") == 10
    for r in rows:
        assert float(r["score_neg_log_px"]) == pytest.approx(-float(r["log_px"]), abs=1e-3)
    by = {k: [float(r["score_neg_log_px"]) for r in rows if r["input"] == k] for k in (str(noise), "digits:test:3")}
    assert max(by["digits:test:3"]) < min(by[str(noise)])
    # the table prints every image's score (21 rows <= 40) and a summary per input
    assert "digit.png" in printed and "noise.npy[" in printed and "digits:test:3" in printed


def test_label_filter_and_spec_forms(run):
    threes = load_inputs("digits:test:3")
    data = load_dataset("digits")
    assert len(threes) == int((data.test_labels == 3).sum()) and (threes.labels == 3).all()
    assert len(load_inputs("digits:valid:0-4,9")) == int(torch.isin(data.valid_labels,
                                                                    torch.tensor([0, 1, 2, 3, 4, 9])).sum())


@pytest.mark.parametrize("make,message", [
    (lambda d: Image.fromarray(np.zeros((28, 28), np.uint8)).save(d / "big.png") or d / "big.png",
     "images of 28x28 pixels, but the model takes 8x8 (height x width): pass --resize"),
    (lambda d: Image.fromarray(np.zeros((8, 8, 3), np.uint8) + np.array([255, 0, 0], np.uint8)).save(d / "rgb.png")
     or d / "rgb.png", "8x8 3-channel images, but the model takes 8x8 grayscale images"),
    (lambda d: np.save(d / "hot.npy", np.full((3, 8, 8), 2.0, np.float32)) or d / "hot.npy",
     "values out of range: min 2, max 2"),
    (lambda d: np.save(d / "nan.npy", np.full((3, 8, 8), np.nan, np.float32)) or d / "nan.npy",
     "192 NaN and 0 infinite value(s)"),
    (lambda d: d / "missing.png", "missing.png: not found (expected an image file"),
    (lambda d: "digits", "digits: not found (expected an image file (PNG/JPEG), a .npy/.npz file"),
    (lambda d: "digits:test:x", "bad class filter 'x'"),
])
def test_bad_inputs_give_one_line_errors(run, tmp_path, capsys, make, message):
    spec = make(tmp_path)
    assert main(["score", str(run.run_dir), str(spec), "-k", "4", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_resize_and_binarize_make_inputs_fit(run, tmp_path):
    Image.fromarray((np.random.default_rng(0).random((16, 16)) * 255).astype(np.uint8)).save(tmp_path / "big.png")
    inputs = load_inputs(str(tmp_path / "big.png"))
    x = fit_inputs(inputs, (1, 8, 8), "gaussian", resize=True)
    assert x.shape == (1, 1, 8, 8) and 0 <= float(x.min()) and float(x.max()) <= 1
    with pytest.raises(DataError, match="Bernoulli likelihood, which needs binary pixels 0 or 1: pass --binarize"):
        fit_inputs(load_inputs("digits:test"), (1, 8, 8), "bernoulli")
    binary = fit_inputs(load_inputs("digits:test"), (1, 8, 8), "bernoulli", binarize="threshold")
    assert set(binary.unique().tolist()) == {0.0, 1.0}
    scored = score_specs(run, [str(tmp_path / "big.png")], k=8, resize=True)
    assert scored[0].scores.shape == (1,) and np.isfinite(scored[0].scores).all()


def test_anomaly_eval_command(run, noise, tmp_path, capsys):
    out = tmp_path / "ae"
    assert main(["anomaly-eval", str(run.run_dir), "--normal", "digits:test", "--anomalous", str(noise),
                 "-k", "32", "--fpr", "0.1", "--calibration-limit", "200", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "anomaly.json").read_text())
    assert doc["auroc"] > 0.99 and doc["average_precision"] > 0.99
    assert doc["n_normal"] == 270 and doc["n_anomalous"] == 100
    assert doc["calibration"] == "digits:valid" and doc["calibration_fpr"] <= 0.1
    assert doc["calibration_fpr"] == pytest.approx(0.1, abs=0.01)  # 20 of the 200 calibration images flagged
    assert f"ROC-AUC {doc['auroc']:.4f}" in printed and str(out / "roc.png") in printed
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert [r["set"] for r in rows].count("calibration") == 200 and len(rows) == 270 + 100 + 200
    with Image.open(out / "roc.png") as im:
        assert im.width > 600 and im.height > 300


def test_autoencoder_has_no_anomaly_score(tmp_path, capsys):
    ae = _train(tmp_path / "ae", model="ae", epochs=1, hidden=(16,))
    assert main(["score", str(ae.run_dir), "digits:test", "--quiet"]) == 2
    assert "anomaly scores need a VAE run" in capsys.readouterr().err
