"""read_amat on generated good and corrupt binarized-MNIST text files."""

import gzip

import numpy as np
import pytest

from vaelab.data.amat import read_amat
from vaelab.errors import DataError


def amat_text(rows: np.ndarray) -> bytes:
    return b"".join((" ".join(str(int(v)) for v in r) + "\n").encode() for r in rows)


@pytest.fixture
def rows():
    return np.random.default_rng(1).integers(0, 2, size=(6, 784), dtype=np.uint8)


def test_amat_and_gz(tmp_path, rows):
    (tmp_path / "x.amat").write_bytes(amat_text(rows))
    (tmp_path / "x.amat.gz").write_bytes(gzip.compress(amat_text(rows)))
    for name in ("x.amat", "x.amat.gz"):
        got = read_amat(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == (6, 784)
        np.testing.assert_array_equal(got, rows)


def test_crlf_irregular_spaces_and_no_final_newline(tmp_path, rows):
    text = amat_text(rows).replace(b"\n", b"\r\n").replace(b"0 1", b"0   1")
    (tmp_path / "crlf.amat").write_bytes(b"\r\n" + text.rstrip(b"\r\n") + b"  ")
    np.testing.assert_array_equal(read_amat(tmp_path / "crlf.amat"), rows)


def test_bad_character(tmp_path, rows, raises_one_line):
    text = bytearray(amat_text(rows))
    text[1568 * 2 + 10] = ord("2")  # line 3
    p = tmp_path / "bad_char.amat"
    p.write_bytes(bytes(text))
    with raises_one_line(DataError, p.name, "invalid character '2' on line 3", "expected 784 space-separated 0/1"):
        read_amat(p)


def test_wrong_value_count(tmp_path, rows, raises_one_line):
    lines = amat_text(rows).split(b"\n")
    lines[4] = lines[4][:-2]  # drop the last value of line 5
    p = tmp_path / "short_line.amat.gz"
    p.write_bytes(gzip.compress(b"\n".join(lines)))
    with raises_one_line(DataError, p.name, "line 5 has 783 values", "expected 784"):
        read_amat(p)


def test_multi_digit_value(tmp_path, rows, raises_one_line):
    text = amat_text(rows)
    text = text[:2] + b"10" + text[3:]  # second value of line 1 becomes '10': still 784 tokens
    p = tmp_path / "merged.amat"
    p.write_bytes(text)
    with raises_one_line(DataError, p.name, "value '10' on line 1", "expected 784 space-separated 0/1 values"):
        read_amat(p)


def test_truncated_gzip(tmp_path, rows, raises_one_line):
    blob = gzip.compress(amat_text(rows))
    p = tmp_path / "binarized_mnist_train.amat.gz"
    p.write_bytes(blob[:-20])
    with raises_one_line(DataError, p.name, "truncated gzip stream", "expected a complete gzip file of 784"):
        read_amat(p)


def test_empty_file(tmp_path, raises_one_line):
    p = tmp_path / "empty.amat"
    p.write_bytes(b"\n\n")
    with raises_one_line(DataError, p.name, "no data lines", "expected 784"):
        read_amat(p)
