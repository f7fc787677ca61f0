"""Data larger than memory: memory-mapped .npy and image folders streamed batch by batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data import load_dataset
from vaelab.data.streaming import StreamingSplit, should_stream
from vaelab.errors import DataError
from vaelab.training import TrainConfig, train


@pytest.fixture
def npy(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "big.npy"
    np.save(path, (rng.random((400, 6, 5)) * 255).astype(np.uint8))
    return path


def test_size_decides_the_path(npy, monkeypatch):
    monkeypatch.setenv("VAELAB_STREAM_BYTES", str(10 ** 12))
    assert isinstance(load_dataset(str(npy)).train, torch.Tensor)  # fits: loaded into memory
    monkeypatch.setenv("VAELAB_STREAM_BYTES", "1000")
    assert should_stream(1001) and not should_stream(1000)
    streamed = load_dataset(str(npy))
    assert isinstance(streamed.train, StreamingSplit) and streamed.train.shape == (320, 1, 6, 5)
    assert streamed.source["streamed"] is True and streamed.kind == "continuous"


def test_streamed_values_equal_the_in_memory_ones(npy, monkeypatch):
    monkeypatch.setenv("VAELAB_STREAM_BYTES", str(10 ** 12))
    mem = load_dataset(str(npy))
    monkeypatch.setenv("VAELAB_STREAM_BYTES", "1000")
    st = load_dataset(str(npy))
    for split in ("train", "valid", "test"):
        torch.testing.assert_close(st.split(split)[:], mem.split(split))
    idx = torch.tensor([5, 0, 300, 7, 7])
    torch.testing.assert_close(st.train[idx], mem.train[idx])  # any order, repeats allowed


def test_training_on_streamed_data_matches_in_memory_training(npy, tmp_path, monkeypatch):
    cfg = dict(dataset=str(npy), epochs=2, hidden=(16,), latent_dim=2, batch_size=64, device="cpu")
    monkeypatch.setenv("VAELAB_STREAM_BYTES", str(10 ** 12))
    mem = train(TrainConfig.from_dict(dict(**cfg, out=str(tmp_path / "mem"))), quiet=True)
    monkeypatch.setenv("VAELAB_STREAM_BYTES", "1000")
    st = train(TrainConfig.from_dict(dict(**cfg, out=str(tmp_path / "st"))), quiet=True)
    for a, b in zip(mem.metrics, st.metrics):
        assert b["train_elbo"] == pytest.approx(a["train_elbo"], abs=1e-3)
        assert b["valid_elbo"] == pytest.approx(a["valid_elbo"], abs=1e-3)


def test_streamed_image_folder(tmp_path, monkeypatch):
    for c in ("a", "b"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((7, 9), 40 * i, dtype=np.uint8)).save(tmp_path / "imgs" / c / f"{i}.png")
    monkeypatch.setenv("VAELAB_STREAM_BYTES", "100")
    d = load_dataset(str(tmp_path / "imgs"))
    assert isinstance(d.train, StreamingSplit) and d.train.shape[1:] == (1, 7, 9)
    assert d.class_names == ["a", "b"] and len(d.train_labels) == 8
    values = sorted(set(d.train[:].flatten().tolist()) | set(d.valid[:].flatten().tolist())
                    | set(d.test[:].flatten().tolist()))
    assert values == pytest.approx([40 * i / 255 for i in range(5)])


def test_streamed_bad_values_are_reported(tmp_path, monkeypatch):
    arr = np.random.default_rng(0).random((50, 4, 4)).astype(np.float32)
    arr[30, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", arr)
    monkeypatch.setenv("VAELAB_STREAM_BYTES", "100")
    with pytest.raises(DataError, match=r"nan.npy: non-finite values in rows 0\.\.49"):
        load_dataset(str(tmp_path / "nan.npy"))
