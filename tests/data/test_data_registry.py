"""load_dataset on generated data: user arrays/folders, splits, binarization, bad names and options."""

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data import DATASETS, available_datasets, load_dataset
from vaelab.errors import ConfigError, DataError

RNG = np.random.default_rng(3)


def test_available_names():
    assert available_datasets() == ["mnist", "fashion-mnist", "binarized-mnist", "frey-face", "digits"]
    assert all(isinstance(v, str) and v for v in DATASETS.values())


def test_user_npy_split_and_kind(tmp_path):
    arr = RNG.random((50, 4, 4)).astype(np.float32)
    np.save(tmp_path / "mine.npy", arr)
    ds = load_dataset(str(tmp_path / "mine.npy"), split_seed=5)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (40, 5, 5)
    assert ds.kind == "continuous" and ds.image_shape == (1, 4, 4) and ds.train_labels is None
    total = torch.cat([ds.train, ds.valid, ds.test]).sum().item()
    assert total == pytest.approx(float(arr.sum()), rel=1e-5)  # a partition of the data
    again = load_dataset(tmp_path / "mine.npy", split_seed=5)
    other = load_dataset(tmp_path / "mine.npy", split_seed=6)
    assert torch.equal(ds.valid, again.valid) and not torch.equal(ds.valid, other.valid)
    assert ds.source["split"] == {"method": "seeded permutation 80/10/10", "seed": 5, "sizes": [40, 5, 5]}
    assert ds.source["files"] == [str(tmp_path / "mine.npy")]


def test_user_binary_npz_with_labels(tmp_path):
    x = (RNG.random((20, 3, 3)) > 0.5).astype(np.float32)
    np.savez(tmp_path / "b.npz", x=x, y=np.arange(20) % 4)
    ds = load_dataset(str(tmp_path / "b.npz"))
    assert ds.kind == "binary" and ds.dynamic_binarization is False
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (16, 2, 2)
    assert ds.train_labels.dtype == torch.int64
    # labels follow their images through the split
    lut = {tuple(x[i].ravel()): i % 4 for i in range(20)}
    for img, lab in zip(ds.test, ds.test_labels):
        assert lut[tuple(img.numpy().ravel())] == lab.item()


def test_tiny_data_sets(tmp_path, raises_one_line):
    np.save(tmp_path / "three.npy", np.zeros((3, 2, 2), np.uint8))
    ds = load_dataset(str(tmp_path / "three.npy"))
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (1, 1, 1)
    np.save(tmp_path / "two.npy", np.zeros((2, 2, 2), np.uint8))
    with raises_one_line(DataError, "two.npy", "only 2 example(s)", "expected at least 3"):
        load_dataset(str(tmp_path / "two.npy"))


def test_binarize_modes_on_user_data(tmp_path):
    arr = np.linspace(0, 1, 40 * 16, dtype=np.float32).reshape(40, 4, 4)
    np.save(tmp_path / "g.npy", arr)
    thr = load_dataset(str(tmp_path / "g.npy"), binarize="threshold")
    plain = load_dataset(str(tmp_path / "g.npy"))
    assert thr.kind == "binary" and torch.equal(thr.train, (plain.train > 0.5).float())
    dyn = load_dataset(str(tmp_path / "g.npy"), binarize="dynamic")
    assert dyn.kind == "binary" and dyn.dynamic_binarization
    assert torch.equal(dyn.train, plain.train)  # train stays grayscale
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(dyn.valid, torch.bernoulli(plain.valid, generator=gen))
    assert torch.equal(dyn.test, torch.bernoulli(plain.test, generator=gen))
    assert torch.equal(dyn.valid, load_dataset(str(tmp_path / "g.npy"), binarize="dynamic").valid)
    assert dyn.source["binarize"] == "dynamic"


def test_bad_binarize_mode(tmp_path, raises_one_line):
    np.save(tmp_path / "g.npy", np.zeros((5, 2, 2), np.uint8))
    with raises_one_line(ConfigError, "'stochastic'", "expected one of none, threshold, dynamic"):
        load_dataset(str(tmp_path / "g.npy"), binarize="stochastic")


def test_binarized_mnist_refuses_binarization(tmp_path, raises_one_line):
    with raises_one_line(ConfigError, "binarized-mnist is already binarized", "expected binarize 'none'"):
        load_dataset("binarized-mnist", data_dir=tmp_path, binarize="dynamic", download=False)


def test_image_folder_with_resize_and_labels(tmp_path):
    for cls, n in (("b", 3), ("a", 2)):
        for i in range(n):
            (tmp_path / "imgs" / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(RNG.integers(0, 256, size=(6 + i, 6), dtype=np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    ds = load_dataset(str(tmp_path / "imgs"), image_size=(4, 4))
    assert ds.class_names == ["a", "b"] and ds.image_shape == (1, 4, 4)
    labels = torch.cat([ds.train_labels, ds.valid_labels, ds.test_labels]).sort().values
    assert labels.tolist() == [0, 0, 1, 1, 1]


def test_npy_resize(tmp_path):
    np.save(tmp_path / "big.npy", np.full((5, 8, 8), 255, np.uint8))
    ds = load_dataset(str(tmp_path / "big.npy"), image_size=(4, 2))
    assert ds.image_shape == (1, 4, 2) and ds.train.min().item() == pytest.approx(1.0)


def test_image_size_on_named_set(raises_one_line):
    with raises_one_line(ConfigError, "digits images are 8x8", "expected image size (8, 8)"):
        load_dataset("digits", image_size=(28, 28))


def test_unknown_name(raises_one_line):
    with raises_one_line(DataError, "'cifar-99'", "mnist", "fashion-mnist", "binarized-mnist", "frey-face", "digits"):
        load_dataset("cifar-99")


def test_unsupported_user_file(tmp_path, raises_one_line):
    (tmp_path / "data.txt").write_text("0,1\n")  # (.csv is a table: vaelab.data.tables)
    with raises_one_line(DataError, "data.txt", "expected a .npy or .npz file, or a folder"):
        load_dataset(str(tmp_path / "data.txt"))


def test_named_set_missing_files(tmp_path, raises_one_line):
    with raises_one_line(DataError, "binarized_mnist_train.amat", str(tmp_path / "binarized_mnist"), "download is disabled",
                         "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_train.amat"):
        load_dataset("binarized-mnist", data_dir=tmp_path, download=False)
    # download on, but the mirror fails (tests have no network): one line naming the file and the URL
    with raises_one_line(DataError, "frey_rawface.mat", str(tmp_path / "frey_face"), "download failed",
                         "https://cs.nyu.edu/~roweis/data/frey_rawface.mat"):
        load_dataset("frey-face", data_dir=tmp_path)
    assert not (tmp_path / "frey_face" / "frey_rawface.mat").exists()


def test_data_dir_from_env(tmp_path, monkeypatch, raises_one_line):
    monkeypatch.setenv("VAELAB_DATA_DIR", str(tmp_path / "envroot"))
    with raises_one_line(DataError, str(tmp_path / "envroot" / "fashion_mnist"), "train-images-idx3-ubyte.gz",
                         "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz"):
        load_dataset("fashion_mnist", download=False)


def test_corrupt_frey_file(tmp_path, raises_one_line):
    (tmp_path / "frey_face").mkdir()
    (tmp_path / "frey_face" / "frey_rawface.mat").write_bytes(b"MATLAB junk")
    with raises_one_line(DataError, "frey_rawface.mat", "expected a MATLAB file with variable 'ff'"):
        load_dataset("frey-face", data_dir=tmp_path, download=False)


def test_digits():
    ds = load_dataset("digits")
    assert (ds.train.shape, ds.valid.shape, ds.test.shape) == ((1257, 1, 8, 8), (270, 1, 8, 8), (270, 1, 8, 8))
    assert ds.kind == "continuous" and ds.class_names == [str(i) for i in range(10)]
    assert ds.train.min().item() == 0.0 and ds.train.max().item() == 1.0
    all_labels = torch.cat([ds.train_labels, ds.valid_labels, ds.test_labels])
    assert torch.bincount(all_labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert ds.source["split"]["seed"] == 0
