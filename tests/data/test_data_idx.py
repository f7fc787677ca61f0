"""read_idx on generated good and corrupt IDX files (gzipped and raw)."""

import gzip

import numpy as np
import pytest

from vaelab.data.idx import read_idx
from vaelab.errors import DataError


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(7, 5, 4), dtype=np.uint8)


def test_raw_and_gz_roundtrip(tmp_path, images):
    (tmp_path / "img-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "img-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("img-idx3-ubyte", "img-idx3-ubyte.gz"):
        got = read_idx(tmp_path / name, ndim=3)
        assert got.dtype == np.uint8 and got.shape == (7, 5, 4)
        np.testing.assert_array_equal(got, images)


def test_labels(tmp_path):
    labels = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
    (tmp_path / "lab.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx(tmp_path / "lab.gz", ndim=1), labels)


def test_truncated_gzip(tmp_path, images, raises_one_line):
    blob = gzip.compress(idx_bytes(images))
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with raises_one_line(DataError, p.name, "truncated gzip", "expected a complete gzip file"):
        read_idx(p)


def test_wrong_magic(tmp_path, images, raises_one_line):
    p = tmp_path / "bad-magic-idx3-ubyte"
    p.write_bytes(b"\x12\x34" + idx_bytes(images)[2:])
    with raises_one_line(DataError, p.name, "0x12340803", "expected", "0x00000803"):
        read_idx(p)


def test_wrong_ndim_for_images(tmp_path, raises_one_line):
    p = tmp_path / "labels-not-images"
    p.write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with raises_one_line(DataError, p.name, "0x00000801", "expected an IDX file with magic 0x00000803"):
        read_idx(p, ndim=3)


def test_payload_too_short(tmp_path, images, raises_one_line):
    p = tmp_path / "short-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(images)[:-10]))
    with raises_one_line(DataError, p.name, "payload too short", "130 bytes", "expected 140 bytes", "(7, 5, 4)"):
        read_idx(p)


def test_payload_too_long(tmp_path, images, raises_one_line):
    p = tmp_path / "long-idx3-ubyte"
    p.write_bytes(idx_bytes(images) + b"\x00")
    with raises_one_line(DataError, p.name, "payload too long", "expected 140 bytes"):
        read_idx(p)


def test_not_gzip_and_missing(tmp_path, raises_one_line):
    p = tmp_path / "plain.gz"
    p.write_bytes(b"not gzip at all")
    with raises_one_line(DataError, p.name, "not a gzip file", "expected a gzip file"):
        read_idx(p)
    with raises_one_line(DataError, "absent-idx1-ubyte.gz", "not found", "expected"):
        read_idx(tmp_path / "absent-idx1-ubyte.gz")
