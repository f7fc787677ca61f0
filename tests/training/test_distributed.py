"""Data-parallel training with torchrun (2 CPU ranks, gloo): same metrics as one process, same weights on
every rank, resume, and only rank 0 writing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")
CONFIG = dict(dataset="digits", hidden=[64], latent_dim=4, batch_size=64, epochs=3, device="cpu", seed=5,
              warmup_epochs=0)


def torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    r = subprocess.run([sys.executable, str(WORKER), json.dumps({**CONFIG, "out": str(out)})],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def test_two_ranks_match_one_process_and_each_other(single, tmp_path):
    out = tmp_path / "run"
    r = torchrun(str(WORKER), json.dumps({**CONFIG, "out": str(out)}))
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = metrics(single), metrics(out)
    assert [m["epoch"] for m in b] == [1, 2, 3]
    for ma, mb in zip(a, b):
        for key in ("train_elbo", "train_kl", "valid_elbo", "valid_reconstruction", "valid_kl"):
            assert mb[key] == pytest.approx(ma[key], abs=1e-3), (key, ma[key], mb[key])
    r0, r1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # ranks end with identical weights
    ref = load_file(str(single.parent / "rank0.safetensors"))
    assert all(torch.allclose(ref[k], r0[k], atol=1e-4) for k in ref)
    assert json.loads((out / "results.json").read_text())["elbo"] == pytest.approx(
        json.loads((single / "results.json").read_text())["elbo"], abs=1e-3)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_torchrun_cli_resume_continues_the_run(single, tmp_path):
    out = tmp_path / "cli"
    args = ["--dataset", "digits", "--hidden", "64", "--latent-dim", "4", "--batch-size", "64", "--device", "cpu",
            "--seed", "5", "--warmup-epochs", "0", "--out", str(out), "--quiet"]
    r = torchrun("-m", "vaelab", "train", *args, "--epochs", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("epoch   1/1") == 1  # only rank 0 prints
    r = torchrun("-m", "vaelab", "train", "--resume", str(out), "--epochs", "3", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = metrics(single), metrics(out)
    assert [m["epoch"] for m in b] == [1, 2, 3]
    for ma, mb in zip(a, b):
        assert mb["valid_elbo"] == pytest.approx(ma["valid_elbo"], abs=1e-3)


@pytest.mark.parametrize("extra", [dict(prior="vamp", pseudo_inputs=16, stochastic_layers=2),
                                   dict(condition="label", posterior="iaf", flow_steps=1, flow_hidden=8)])
def test_two_ranks_match_one_process_for_the_model_family(extra, tmp_path):
    config = {**CONFIG, **extra, "epochs": 2}
    one = subprocess.run([sys.executable, str(WORKER), json.dumps({**config, "out": str(tmp_path / "one" / "run")})],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    r = torchrun(str(WORKER), json.dumps({**config, "out": str(tmp_path / "two" / "run")}))
    assert r.returncode == 0, r.stderr[-3000:]
    for ma, mb in zip(metrics(tmp_path / "one" / "run"), metrics(tmp_path / "two" / "run")):
        assert mb["valid_elbo"] == pytest.approx(ma["valid_elbo"], abs=1e-2)
