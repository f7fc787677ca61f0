"""`vaelab encode` / `vaelab decode`: the written codes read back equal model.encode, in every file format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vaelab
from vaelab.cli.main import main
from vaelab.data import load_dataset
from vaelab.evaluation.codes import read_codes


def _train(out, **overrides):
    config = dict(dataset="digits", hidden=(16,), latent_dim=3, epochs=1, batch_size=64, seed=0, device="cpu",
                  warmup_epochs=0, out=str(out), **overrides)
    return vaelab.train(vaelab.TrainConfig.from_dict(config), quiet=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("codes") / "vae")


@pytest.fixture(scope="module")
def test_split():
    data = load_dataset("digits")
    return data.test, data.test_labels


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".parquet"])
def test_encoded_codes_equal_model_encode(run, test_split, tmp_path, suffix, capsys):
    if suffix in (".csv", ".parquet"):
        pytest.importorskip("pandas", reason="the tables extra: pip install -e '.[tables]'")
    out = tmp_path / f"codes{suffix}"
    assert main(["encode", str(run.run_dir), "digits:test", "--out", str(out), "--sample", "--quiet",
                 "--batch-size", "100"]) == 0
    assert "closed-form" in capsys.readouterr().out
    x, y = test_split
    with torch.no_grad():
        q = run.model.encode(x)
    mean, labels = read_codes(out)
    assert mean.shape == (270, 3)
    np.testing.assert_allclose(mean, q.mean.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(labels, y.numpy())
    logvar, _ = read_codes(out, "logvar") if suffix != ".npy" else (np.load(tmp_path / "codes.logvar.npy"), None)
    np.testing.assert_allclose(logvar, q.logvar.numpy(), rtol=1e-5, atol=1e-5)
    sample, _ = read_codes(out, "sample") if suffix != ".npy" else (np.load(tmp_path / "codes.sample.npy"), None)
    assert sample.shape == (270, 3)
    # a draw of q: standardised, it is about N(0, 1) (270 * 3 numbers)
    eps = (sample - q.mean.numpy()) / q.std.numpy()
    assert abs(eps.mean()) < 0.2 and 0.8 < eps.std() < 1.2


def test_decode_goes_back_to_images(run, tmp_path, capsys):
    codes = tmp_path / "codes.npy"
    assert main(["encode", str(run.run_dir), "digits:test:3", "--out", str(codes), "--quiet"]) == 0
    out = tmp_path / "images"
    assert main(["decode", str(run.run_dir), str(codes), "--out", str(out), "--quiet"]) == 0
    decoded = np.load(out / "decoded.npy")
    z = torch.from_numpy(np.load(codes))
    with torch.no_grad():
        np.testing.assert_allclose(decoded, run.model.decode(z).numpy(), rtol=1e-5, atol=1e-6)
    assert decoded.shape == (z.shape[0], 1, 8, 8)
    assert len(list(out.glob("*.png"))) == z.shape[0]


def test_flow_posterior_gets_a_monte_carlo_mean(tmp_path, capsys):
    flow = _train(tmp_path / "iaf", posterior="iaf", flow_steps=1)
    out = tmp_path / "codes.npz"
    assert main(["encode", str(flow.run_dir), "digits:test", "--out", str(out), "--quiet",
                 "--mc-samples", "2000"]) == 0
    with np.load(out) as f:
        assert "Monte-Carlo" in str(f["posterior"])
        mean = f["mean"]
    x = load_dataset("digits").test
    with torch.no_grad():
        draws = flow.model.encode(x).rsample((2000,), generator=torch.Generator().manual_seed(1))
    # two independent 2000-draw estimates of E_q[z|x] agree to Monte-Carlo error
    np.testing.assert_allclose(mean, draws.mean(0).numpy(), atol=0.1)


def test_bad_codes_give_one_line(run, tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 7), np.float32))
    assert main(["decode", str(run.run_dir), str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "7 dimensions" in err and "3" in err
    assert main(["encode", str(run.run_dir), "digits:test", "--out", str(tmp_path / "c.txt"), "--quiet"]) == 2
    assert "expected one of .npy" in capsys.readouterr().err


def test_autoencoder_codes_are_points_without_variance(tmp_path, capsys):
    ae = _train(tmp_path / "ae", model="ae")
    out = tmp_path / "codes.npz"
    assert main(["encode", str(ae.run_dir), "digits:test", "--out", str(out), "--quiet"]) == 0
    x = load_dataset("digits").test
    with np.load(out) as f:
        assert "logvar" not in f.files and "autoencoder" in str(f["posterior"])
        with torch.no_grad():
            np.testing.assert_allclose(f["mean"], ae.model.encode(x).mean.numpy(), rtol=1e-5, atol=1e-6)
