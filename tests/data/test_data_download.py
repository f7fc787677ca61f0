"""fetch / fetch_all: existing files trusted, file:// mirrors, MD5 check, atomic writes, offline errors."""

import hashlib
import urllib.error

import pytest

import vaelab.data.download as dl
from vaelab.data.download import RemoteFile, fetch, fetch_all
from vaelab.errors import DataError

PAYLOAD = b"hello vaelab \x00\x01\x02" * 100
MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture
def mirror(tmp_path):
    """A local 'mirror' folder serving data.bin over file:// URLs."""
    src = tmp_path / "mirror"
    src.mkdir()
    (src / "data.bin").write_bytes(PAYLOAD)
    return src


def test_download_from_file_url(tmp_path, mirror):
    dest = tmp_path / "root" / "set"
    path = fetch("data.bin", dest, [(mirror / "data.bin").as_uri()], MD5)
    assert path == dest / "data.bin"
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.iterdir()) == ["data.bin"]  # no temp file left


def test_falls_back_to_second_mirror(tmp_path, mirror):
    urls = [(mirror / "absent.bin").as_uri(), (mirror / "data.bin").as_uri()]
    assert fetch("data.bin", tmp_path / "d", urls, MD5).read_bytes() == PAYLOAD


def test_md5_mismatch_leaves_no_file(tmp_path, mirror, raises_one_line):
    dest = tmp_path / "d"
    with raises_one_line(DataError, "data.bin", str(dest), "MD5 mismatch", "0" * 32, "expected"):
        fetch("data.bin", dest, [(mirror / "data.bin").as_uri()], "0" * 32)
    assert not (dest / "data.bin").exists()
    assert not dest.exists() or list(dest.iterdir()) == []


def test_existing_file_is_trusted(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"local copy")
    assert fetch("data.bin", tmp_path, ["file:///nonexistent"], MD5).read_bytes() == b"local copy"


def test_missing_with_download_off(tmp_path, raises_one_line):
    url = "https://example.org/data.bin"
    with raises_one_line(DataError, "data.bin", str(tmp_path), "download is disabled", url, "expected"):
        fetch("data.bin", tmp_path, [url], MD5, download=False)


def test_failing_mirror(tmp_path, raises_one_line):
    url = (tmp_path / "nowhere" / "data.bin").as_uri()
    with raises_one_line(DataError, "data.bin", str(tmp_path / "d"), "download failed", url):
        fetch("data.bin", tmp_path / "d", [url], MD5)
    assert not (tmp_path / "d" / "data.bin").exists()


def test_network_error_names_url(tmp_path, monkeypatch, raises_one_line):
    calls = []

    def offline(url, timeout=None):
        calls.append((url, timeout))
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(dl, "urlopen", offline)
    urls = ["https://a.example/x/data.bin", "https://b.example/data.bin"]
    with raises_one_line(DataError, "data.bin", "a.example/x/data.bin", "b.example", "name resolution"):
        fetch("data.bin", tmp_path, urls, MD5)
    assert [c[0] for c in calls] == urls
    assert all(0 < c[1] <= 60 for c in calls)  # a short timeout


def test_fetch_all_accepts_alternative_names_and_lists_all_missing(tmp_path, raises_one_line):
    (tmp_path / "a.amat").write_bytes(b"x")
    files = [
        RemoteFile("a.amat", ("https://h.example/a.amat",), MD5, alternatives=("a.amat.gz",)),
        RemoteFile("b.amat", ("https://h.example/b.amat",), MD5, alternatives=("b.amat.gz",)),
        RemoteFile("c.amat", ("https://h.example/c.amat",), MD5),
    ]
    (tmp_path / "b.amat.gz").write_bytes(b"y")
    assert fetch_all(files[:2], tmp_path, download=False) == [tmp_path / "a.amat", tmp_path / "b.amat.gz"]
    with raises_one_line(DataError, "c.amat", "https://h.example/c.amat", str(tmp_path)):
        fetch_all(files, tmp_path, download=True)  # network guard: fails like an offline machine
