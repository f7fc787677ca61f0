"""`vaelab train --tensorboard`: the event files read back with TensorBoard's own reader hold the per-epoch
scalars (equal to metrics.jsonl), the image grids, the hparams with the test metrics, and a resumed run's
curves continue without duplicated steps."""

from __future__ import annotations

import json
import sys

import pytest

import vaelab
from vaelab.errors import ConfigError

pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _config(out, epochs, **overrides):
    return vaelab.TrainConfig.from_dict(dict(dataset="digits", hidden=(16,), latent_dim=2, epochs=epochs,
                                             batch_size=128, seed=0, device="cpu", warmup_epochs=2, out=str(out),
                                             tensorboard=True, tensorboard_images_every=2, **overrides))


def _events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_scalars_images_and_hparams_are_written(tmp_path):
    run = vaelab.train(_config(tmp_path / "run", 3), quiet=True)
    acc = _events(run.run_dir / "tensorboard")
    tags = set(acc.Tags()["scalars"])
    for tag in ("train/elbo", "train/reconstruction", "train/kl", "valid/elbo", "valid/reconstruction", "valid/kl",
                "valid/iwae_k50", "schedule/lr", "schedule/beta", "time/seconds"):
        assert tag in tags, tag
    metrics = _metrics(run.run_dir)
    elbo = acc.Scalars("valid/elbo")
    assert [e.step for e in elbo] == [1, 2, 3]
    assert [e.value for e in elbo] == pytest.approx([m["valid_elbo"] for m in metrics], rel=1e-6)
    assert [e.value for e in acc.Scalars("schedule/beta")] == pytest.approx([m["beta"] for m in metrics])
    # IWAE_50 is a tighter bound than the ELBO of the same (averaged) weights on the same 270 valid images
    assert all(e.value < i.value < e.value + 5.0 for i, e in zip(acc.Scalars("valid/iwae_k50"), elbo))
    assert [e.step for e in acc.Images("samples")] == [2, 3]
    assert {e.step for e in acc.Images("reconstructions")} == {2, 3}
    hp = _events(run.run_dir / "tensorboard" / "hparams")
    assert hp.Scalars("test/elbo")[0].value == pytest.approx(run.results["elbo"], rel=1e-6)
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = hp.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["model.latent_dim"].number_value == 2
    assert start.hparams["dataset"].string_value == "digits"


def test_resumed_run_continues_the_curves_without_duplicated_steps(tmp_path):
    out = tmp_path / "run"
    vaelab.train(_config(out, 2), quiet=True)
    # a killed run may have logged an epoch after its last checkpoint: write such stray steps by hand
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(out / "tensorboard")) as stray:
        stray.add_scalar("valid/elbo", 12345.0, 3)
        stray.add_scalar("valid/elbo", 12345.0, 4)
    vaelab.train(_config(out, 4), resume=out, quiet=True)
    acc = _events(out / "tensorboard")
    elbo = acc.Scalars("valid/elbo")
    assert [e.step for e in elbo] == [1, 2, 3, 4]
    assert [e.value for e in elbo] == pytest.approx([m["valid_elbo"] for m in _metrics(out)], rel=1e-6)


def test_missing_tensorboard_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'vaelab\[tensorboard\]'"):
        vaelab.train(_config(tmp_path / "run", 1), quiet=True)
