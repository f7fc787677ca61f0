"""Anomaly detection: the scores (every method), ROC-AUC / AP, threshold calibration, input checks, the two
commands, and the background run they take."""

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
from vaelab.evaluation.anomaly import (anomaly_scores, calibrate_threshold, detection_metrics, prepare_specs,
                                       rates_at, score_specs)
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
                 "--out", str(out), "--quiet", "--method", "nll"]) == 0
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
                 "-k", "32", "--fpr", "0.1", "--calibration-limit", "200", "--out", str(out), "--quiet",
                 "--method", "nll"]) == 0
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


# --------------------------------------------------------------------------------- the other methods
@pytest.fixture(scope="module")
def background(run):
    """The background model of ``run`` (Ren et al.'s perturbed inputs), trained by `vaelab train --background-of`."""
    out = run.run_dir.parent / "background"
    assert main(["train", "--background-of", str(run.run_dir), "--epochs", "5", "--out", str(out), "--quiet"]) == 0
    return vaelab.load(out)


def test_background_of_copies_the_run_and_perturbs_its_inputs(run, background):
    from vaelab.runs.config import BACKGROUND_PERTURBATION, BACKGROUND_WEIGHT_DECAY

    mine, theirs = run.config.to_dict(), background.config.to_dict()
    assert theirs["background_of"] == str(run.run_dir) and theirs["perturbation"] == BACKGROUND_PERTURBATION
    assert theirs["weight_decay"] == BACKGROUND_WEIGHT_DECAY and theirs["epochs"] == 5
    assert mine["perturbation"] == 0.0 and mine["weight_decay"] == 0.0 and mine["background_of"] is None
    same = ("dataset", "model", "batch_size", "lr", "seed", "split_seed", "binarize")
    assert {k: theirs[k] for k in same} == {k: mine[k] for k in same}


@pytest.mark.parametrize("method", ["complexity", "typicality", "ratio", "regret"])
def test_score_command_writes_each_method(run, background, noise, tmp_path, capsys, method):
    out = tmp_path / "s.csv"
    extra = ["--background", str(background.run_dir)] if method == "ratio" else []
    assert main(["score", str(run.run_dir), "digits:test", str(noise), "-k", "16", "--limit", "6", "--method", method,
                 "--regret-steps", "2", "--out", str(out), "--quiet", *extra]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("anomaly score = ") and "higher = more anomalous" in printed
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 12 and all(np.isfinite(float(r[f"score_{method}"])) for r in rows)
    # the CSV holds what the Python API computes for the same images and settings (each input on its own)
    scorer = vaelab_scorer(run, method, background)
    want = np.concatenate([scorer.score(p[2]) for p in prepare_specs(run, ["digits:test", str(noise)], limit=6)])
    assert np.allclose([float(r[f"score_{method}"]) for r in rows], want, atol=1e-3)


def vaelab_scorer(run, method, background):
    from vaelab.runs.anomaly_scores import AnomalyScorer

    return AnomalyScorer(run, method, 16, regret_steps=2, background=background if method == "ratio" else None)


def test_typicality_scores_batches_of_m(run, tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["anomaly-eval", str(run.run_dir), "--normal", "digits:test", "--anomalous", "digits:test:3",
                 "-k", "16", "--method", "typicality", "--batch", "5", "--calibration-limit", "100", "--out", str(out),
                 "--quiet"]) == 0
    doc = json.loads((out / "anomaly.json").read_text())
    assert doc["method"] == "typicality" and doc["per_batch"] == 5
    assert doc["n_normal"] == 270 // 5 and doc["n_anomalous"] == 27 // 5  # one score per batch of 5 images
    assert "batches of 5" in capsys.readouterr().out


def test_without_method_the_default_is_used(run, noise, tmp_path):
    from vaelab.runs.anomaly_config import DEFAULT_METHOD

    docs = []
    for name, extra in (("default", []), ("explicit", ["--method", DEFAULT_METHOD])):
        assert main(["anomaly-eval", str(run.run_dir), "--normal", "digits:test:0-4", "--anomalous", str(noise),
                     "-k", "16", "--calibration-limit", "100", "--out", str(tmp_path / name), "--quiet", *extra]) == 0
        docs.append(json.loads((tmp_path / name / "anomaly.json").read_text()))
    assert docs[0]["method"] == DEFAULT_METHOD and docs[0]["auroc"] == docs[1]["auroc"]
    assert docs[0]["roc_tpr"] == docs[1]["roc_tpr"]


@pytest.mark.parametrize("args,message", [
    (["--method", "bogus"], "unknown method 'bogus': expected one of nll, complexity, typicality, ratio, regret"),
    (["--method", "ratio"], "the ratio method needs a background: --background RUN"),
    (["--method", "nll", "--background", "pixels"], "--background is the ratio method's background model"),
    (["--method", "nll", "--background", "RUN"], "--background is the ratio method's background model"),
    (["--method", "complexity", "--compressor", "gif"], "unknown compressor 'gif'"),
    (["--method", "nll", "--batch", "3"], "--batch M scores batches of M inputs with --method typicality"),
])
def test_bad_method_options_give_one_line_errors(run, capsys, args, message):
    args = [a if a != "RUN" else str(run.run_dir) for a in args]
    assert main(["score", str(run.run_dir), "digits:test", "-k", "4", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_score_command_takes_the_pixel_background(run, noise, tmp_path, capsys):
    from vaelab.runs.anomaly_scores import AnomalyScorer, pixel_background

    out = tmp_path / "p.csv"
    assert main(["score", str(run.run_dir), "digits:test", str(noise), "-k", "16", "--limit", "6", "--method", "ratio",
                 "--background", "pixels", "--out", str(out), "--quiet"]) == 0
    assert "background: independent pixels" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open()))
    scorer = AnomalyScorer(run, "ratio", 16, background=pixel_background(run))
    want = np.concatenate([scorer.score(p[2]) for p in prepare_specs(run, ["digits:test", str(noise)], limit=6)])
    assert np.allclose([float(r["score_ratio"]) for r in rows], want, atol=1e-3)


def test_background_of_another_shape_is_refused(run, tmp_path, capsys, shared_data):
    other = _train(tmp_path / "frey", dataset="frey-face", data_dir=str(shared_data), epochs=1)
    assert main(["score", str(run.run_dir), "digits:test", "--method", "ratio", "--background", str(other.run_dir),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "takes (1, 28, 20) images" in err and len(err.strip().splitlines()) == 1


def test_inputs_are_binarized_as_the_run_s_training_data(tmp_path):
    bern = _train(tmp_path / "b", binarize="threshold", epochs=2)
    gray = load_inputs("digits:test").x[:5]  # grayscale: the run thresholded its training data
    np.save(tmp_path / "gray.npy", gray[:, 0].numpy())
    x = prepare_specs(bern, [str(tmp_path / "gray.npy")])[0][2]
    assert torch.equal(x, (gray > 0.5).float())
    scored = score_specs(bern, [str(tmp_path / "gray.npy")], k=8, method="nll")
    assert np.allclose(scored[0].scores, anomaly_scores(bern.model, (gray > 0.5).float(), k=8))
