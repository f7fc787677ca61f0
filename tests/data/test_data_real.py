"""The loaders on the real published files in ../shared/data (skipped when that folder is absent)."""

import gzip
import hashlib
import time

import numpy as np
import pytest
import scipy.io
import torch

from vaelab.data import load_dataset, read_amat, read_idx
from vaelab.errors import DataError

T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
BMNIST_MEANS = {"train": 0.1305623, "valid": 0.1311270, "test": 0.1325122}  # measured fraction of 1s


@pytest.fixture(scope="module")
def bmnist(shared_data):
    return load_dataset("binarized-mnist", data_dir=shared_data, download=False)


def test_binarized_mnist(bmnist, shared_data):
    assert bmnist.kind == "binary" and bmnist.train_labels is None and not bmnist.dynamic_binarization
    for split, n in (("train", 50000), ("valid", 10000), ("test", 10000)):
        x = bmnist.split(split)
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
        assert set(x.unique().tolist()) == {0.0, 1.0}
        assert x.mean().item() == pytest.approx(BMNIST_MEANS[split], abs=1e-6)
    assert bmnist.source["files"][0] == str(shared_data / "binarized_mnist" / "binarized_mnist_train.amat.gz")


@pytest.mark.parametrize("split, md5", [("valid", "bf37822a04e94123630de6a7dfd9c9ef"), ("test", "14e41ae11040adba6ab8cb291eda0dd8")])
def test_amat_parse_is_exact(shared_data, split, md5):
    """Writing the parsed values back in the published layout reproduces the published MD5."""
    a = read_amat(shared_data / "binarized_mnist" / f"binarized_mnist_{split}.amat.gz")
    text = np.full((a.shape[0], 1568), ord(" "), np.uint8)
    text[:, 0:-1:2] = a + ord("0")
    text[:, -1] = ord("\n")
    assert hashlib.md5(text.tobytes()).hexdigest() == md5


def test_amat_train_parse_speed_and_uncompressed_copy(shared_data, tmp_path):
    src = shared_data / "binarized_mnist" / "binarized_mnist_valid.amat.gz"
    t0 = time.perf_counter()
    train = read_amat(shared_data / "binarized_mnist" / "binarized_mnist_train.amat.gz")
    elapsed = time.perf_counter() - t0
    assert train.shape == (50000, 784) and elapsed < 5.0
    # the published form is uncompressed .amat: both names are accepted
    (tmp_path / "v.amat").write_bytes(gzip.decompress(src.read_bytes()))
    np.testing.assert_array_equal(read_amat(tmp_path / "v.amat"), read_amat(src))


def test_mnist_t10k_idx(shared_data):
    x = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    y = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 10000 and counts.tolist() == T10K_COUNTS
    y_train = read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz")
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS


def test_mnist_without_train_images(shared_data, raises_one_line):
    with raises_one_line(DataError, "train-images-idx3-ubyte.gz", str(shared_data / "mnist"),
                         "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz"):
        load_dataset("mnist", data_dir=shared_data, download=False)


@pytest.fixture(scope="module")
def mnist_root(shared_data, tmp_path_factory):
    """A data root with the real t10k/train-label files and a raw (uncompressed) stand-in train-images file."""
    root = tmp_path_factory.mktemp("root")
    t10k = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
    train = np.concatenate([t10k] * 6)  # 60000 real digits (the train images are not in shared/)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in train.shape)
    for folder in ("mnist", "fashion_mnist"):
        (root / folder).mkdir()
        (root / folder / "train-images-idx3-ubyte").write_bytes(header + train.tobytes())
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"):
            (root / folder / name).symlink_to(shared_data / "mnist" / name)
    return root, t10k


def test_mnist_pipeline(mnist_root):
    root, t10k = mnist_root
    ds = load_dataset("mnist", data_dir=root, download=False)
    assert (ds.train.shape, ds.valid.shape, ds.test.shape) == ((50000, 1, 28, 28), (10000, 1, 28, 28), (10000, 1, 28, 28))
    assert ds.kind == "continuous" and ds.class_names == [str(i) for i in range(10)]
    assert torch.equal(ds.test[:, 0], torch.from_numpy(t10k).float() / 255)
    assert torch.equal(ds.valid, ds.test)  # last 10k of the stand-in train file are the t10k images again
    assert torch.bincount(torch.cat([ds.train_labels, ds.valid_labels])).tolist() == TRAIN_COUNTS
    assert torch.bincount(ds.test_labels).tolist() == T10K_COUNTS
    assert ds.source["files"][0] == str(root / "mnist" / "train-images-idx3-ubyte")


def test_mnist_binarized_and_fashion(mnist_root):
    root, t10k = mnist_root
    thr = load_dataset("mnist", data_dir=root, binarize="threshold", download=False)
    assert thr.kind == "binary" and torch.equal(thr.test[:, 0], (torch.from_numpy(t10k) > 127.5).float())
    dyn = load_dataset("mnist", data_dir=root, binarize="dynamic", download=False)
    assert dyn.dynamic_binarization and dyn.train.unique().numel() > 2
    assert set(dyn.test.unique().tolist()) == {0.0, 1.0}
    assert dyn.test.mean().item() == pytest.approx(float(t10k.mean() / 255), abs=2e-3)
    fashion = load_dataset("fashion-mnist", data_dir=root, download=False)
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[9] == "Ankle boot"
    assert fashion.source["root"] == str(root)


def test_frey_face(shared_data):
    path = shared_data / "frey_face" / "frey_rawface.mat"
    assert hashlib.md5(path.read_bytes()).hexdigest() == "1079312012638e0b7df8188bd26742e4"
    ds = load_dataset("frey-face", data_dir=shared_data, download=False)
    assert (ds.train.shape, ds.valid.shape, ds.test.shape) == ((1565, 1, 28, 20), (200, 1, 28, 20), (200, 1, 28, 20))
    assert ds.kind == "continuous" and ds.train_labels is None
    allx = torch.cat([ds.train, ds.valid, ds.test])
    assert allx.shape[0] == 1965 and allx.min().item() >= 0.0 and allx.max().item() <= 1.0
    ff = scipy.io.loadmat(path)["ff"]
    faces = torch.from_numpy(ff.T.reshape(-1, 28, 20).astype(np.float32) / 255)
    perm = torch.randperm(1965, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ds.train[:, 0], faces[perm[:1565]]) and torch.equal(ds.test[:, 0], faces[perm[1765:]])
    other = load_dataset("frey-face", data_dir=shared_data, split_seed=1, download=False)
    assert not torch.equal(other.valid, ds.valid)
    assert other.source["split"]["seed"] == 1
