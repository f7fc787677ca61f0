"""The vaelab command end to end: train, kill, resume, load back; the demo; bad input gives one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import vaelab
from vaelab.cli.main import main
from vaelab.models.batched import evaluate

VAELAB = [sys.executable, "-m", "vaelab"]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*VAELAB, *args], capture_output=True, text=True, timeout=timeout)


def test_train_one_epoch_on_a_subset_resume_and_load_back(tmp_path, shared_data):
    run_dir = tmp_path / "bm"
    common = ["--data-dir", str(shared_data), "--quiet"]
    r = cli("train", "--dataset", "binarized-mnist", "--train-subset", "2000", "--epochs", "1", "--hidden", "64",
            "--latent-dim", "4", "--warmup-epochs", "0", "--out", str(run_dir), *common)
    assert r.returncode == 0, r.stderr
    assert "test ELBO" in r.stdout
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1
    r = cli("train", "--resume", str(run_dir), "--epochs", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    metrics = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    results = json.loads((run_dir / "results.json").read_text())
    run = vaelab.load(run_dir)
    data = vaelab.load_dataset("binarized-mnist", data_dir=shared_data)
    again = evaluate(run.model, data.test, seed=run.config.seed)
    assert again["elbo"] == pytest.approx(results["elbo"], abs=1e-6)
    # an untrained model scores about -545 nats (784 * log 2); 2 short epochs on 2000 images do far better
    assert -400 < results["elbo"] < -100


def test_run_killed_at_any_point_resumes_to_the_same_weights(tmp_path):
    args = ["--dataset", "digits", "--hidden", "128,128", "--latent-dim", "4", "--batch-size", "16",
            "--epochs", "10", "--device", "cpu", "--quiet"]
    assert cli("train", *args, "--out", str(tmp_path / "full")).returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*VAELAB, "train", *args, "--out", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill it (SIGKILL: no clean-up) once two epochs are checkpointed
        metrics = killed / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len((killed / "metrics.jsonl").read_text().splitlines())
    r = cli("train", "--resume", str(killed), "--quiet")
    assert r.returncode == 0, r.stderr
    for name in ("model.safetensors", "last.safetensors"):
        a, b = load_file(str(tmp_path / "full" / name)), load_file(str(killed / name))
        assert all(torch.equal(a[k], b[k]) for k in a), (name, done)
    full = [json.loads(l)["valid_elbo"] for l in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    res = [json.loads(l)["valid_elbo"] for l in (killed / "metrics.jsonl").read_text().splitlines()]
    assert full == res and len(res) == 10


def test_demo_trains_and_writes_samples_and_reconstructions(tmp_path):
    t0 = time.time()
    r = cli("demo", "--out", str(tmp_path / "demo"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "samples.png" in r.stdout and "reconstructions.png" in r.stdout
    results = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert results["elbo"] > 20  # Gaussian density on 8x8 digits in [0,1]: positive nats once trained
    with Image.open(tmp_path / "demo" / "samples.png") as im:
        assert im.size == (8 * 48 + 9 * 2, 8 * 48 + 9 * 2)  # 8x8 grid of 8x8 digits enlarged 6x, 2 px gaps
        assert len(set(np.asarray(im).ravel().tolist())) > 10  # not blank
    with Image.open(tmp_path / "demo" / "reconstructions.png") as im:
        assert im.size[1] == 8 * 48 + 9 * 2  # 4 original rows + 4 reconstruction rows
    assert time.time() - t0 < 300


@pytest.mark.parametrize("args,message", [
    (["train", "--dataset", "no-such-set"], "no-such-set"),
    (["train", "--dataset", "frey-face", "--likelihood", "bernoulli"], "bernoulli likelihood needs binary pixels"),
    (["train", "--dataset", "digits", "--epochs", "0"], "epochs must be >= 1"),
    (["train", "--resume", "/nonexistent/run"], "config.json: not found"),
    (["train", "--dataset", "digits", "--hidden", "a,b"], "expected comma-separated integers"),
    (["train", "--dataset", "digits", "--activation", "gelu"], "invalid choice: 'gelu'"),
    (["train", "--background-of", "/nonexistent/run"], "config.json: not found"),
    (["train", "--background-of", "/nonexistent/run", "--config", "c.json"], "give --background-of or --config"),
    (["train", "--dataset", "digits", "--perturbation", "2"], "perturbation must be a rate in [0, 1]"),
])
def test_bad_input_gives_one_line_error_and_nonzero_exit(args, message, shared_data, tmp_path):
    r = cli(*args, "--data-dir", str(shared_data), "--out", str(tmp_path / "x"))
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    error_lines = [l for l in r.stderr.splitlines() if "error" in l]
    assert len(error_lines) == 1, r.stderr


def test_corrupt_config_and_checkpoint_are_reported(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--hidden", "8", "--out", str(run),
                 "--quiet"]) == 0
    (run / "last.safetensors").write_bytes(b"\x00\x01garbage")
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "last.safetensors: not a readable safetensors checkpoint" in err
    (run / "config.json").write_text("{not json")
    assert main(["train", "--resume", str(run)]) == 2
    assert "config.json: not a vaelab config" in capsys.readouterr().err


def test_atomic_writes_leave_no_temp_file_and_normal_permissions(tmp_path):
    from vaelab.utils.atomic import write_json_atomic

    target = tmp_path / "a.json"
    write_json_atomic(target, {"x": 1})
    write_json_atomic(target, {"x": 2})
    assert json.loads(target.read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
