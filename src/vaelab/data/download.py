"""Fetch published data files from their mirrors (MD5-checked, written atomically), or say where to get them.

Files already in the data folder are trusted as they are; only downloaded bytes are checked.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from urllib.request import urlopen

from vaelab.data._io import one_line
from vaelab.errors import DataError
from vaelab.utils.atomic import atomic_path

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0  # per socket operation; a dead mirror fails fast and the next one is tried
CHUNK = 1 << 20

MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
BINARIZED_MNIST_MD5 = {  # of the uncompressed .amat files, as published
    "train": "db28b1a6ae0fe70cbd3da91acf46e477",
    "valid": "bf37822a04e94123630de6a7dfd9c9ef",
    "test": "14e41ae11040adba6ab8cb291eda0dd8",
}
FREY_FACE_URL = "https://cs.nyu.edu/~roweis/data/frey_rawface.mat"
FREY_FACE_MD5 = "1079312012638e0b7df8188bd26742e4"


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, the mirror URLs that serve it, its MD5, and equivalent local names.

    ``alternatives`` are other file names accepted when already present (e.g. the gunzipped copy).
    """

    filename: str
    urls: tuple[str, ...]
    md5: str
    alternatives: tuple[str, ...] = field(default=())

    def local(self, folder: Path) -> Path | None:
        """The existing local copy of this file in ``folder`` (any accepted name), or None."""
        for name in (self.filename, *self.alternatives):
            if (folder / name).is_file():
                return folder / name
        return None


class _DownloadFailed(Exception):
    """One mirror could not deliver the file (network error, HTTP error or MD5 mismatch)."""

    def __init__(self, reason: str, *, host_down: bool = False) -> None:
        super().__init__(reason)
        self.host_down = host_down  # connection-level failure: other files on this host will fail too


def _download(url: str, target: Path, md5: str) -> None:
    """Stream ``url`` into a temporary file next to ``target``; rename it onto ``target`` only if the MD5 matches."""
    digest = hashlib.md5()
    try:
        with urlopen(url, timeout=TIMEOUT_S) as resp, atomic_path(target) as tmp:
            with open(tmp, "wb") as out:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != md5.lower():
                raise _DownloadFailed(f"MD5 mismatch: got {digest.hexdigest()}, expected {md5.lower()}")
    except _DownloadFailed:
        raise
    except urllib.error.HTTPError as exc:
        raise _DownloadFailed(f"HTTP {exc.code} {one_line(exc.reason)}") from exc
    except urllib.error.URLError as exc:
        remote = urllib.parse.urlsplit(url).scheme in ("http", "https")
        raise _DownloadFailed(one_line(exc.reason), host_down=remote) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _DownloadFailed(one_line(exc) or type(exc).__name__) from exc


def _try_mirrors(
    filename: str, folder: Path, urls: Sequence[str], md5: str, down_hosts: set[str] | None = None
) -> tuple[Path | None, list[str]]:
    """Try each URL in turn (skipping hosts in ``down_hosts``); return (path, []) or (None, failure reasons)."""
    target = folder / filename
    failures = []
    down_hosts = set() if down_hosts is None else down_hosts
    for url in urls:
        host = urllib.parse.urlsplit(url).netloc
        if host and host in down_hosts:
            continue
        log.info("downloading %s -> %s", url, target)
        try:
            _download(url, target, md5)
            return target, []
        except _DownloadFailed as exc:
            log.info("download of %s failed: %s", url, exc)
            failures.append(f"{url}: {exc}")
            if exc.host_down and host:
                down_hosts.add(host)
    return None, failures


def _missing_message(folder: Path, missing: list[tuple[str, Sequence[str], list[str]]], download: bool) -> str:
    """One line naming every missing file, the folder to place it in and the URLs it is published at."""
    names = ", ".join(m[0] for m in missing)
    failures = list(dict.fromkeys(f for m in missing for f in m[2]))
    if not download:
        how = "download is disabled"
    elif failures:
        how = f"download failed ({'; '.join(failures[:4])}{'; ...' if len(failures) > 4 else ''})"
    else:
        how = "download failed"
    sources = "; ".join(f"{fn} from {' or '.join(urls) if urls else 'its publisher'}" for fn, urls, _ in missing)
    return one_line(f"{folder}: missing {names} and {how} (expected the file(s) in {folder}: get {sources})")


def fetch(filename: str, folder: Path, urls: list[str], md5: str, *, download: bool = True) -> Path:
    """Path of ``folder/filename``: the existing file (trusted), else downloaded from the first working mirror.

    Downloads are MD5-checked and written atomically, so a failed or corrupt download leaves no file.
    When the file is missing and cannot be downloaded (or ``download`` is False) a one-line DataError
    says which file to place in which folder and lists the URLs to get it from.
    """
    folder = Path(folder)
    target = folder / filename
    if target.is_file():
        return target
    failures: list[str] = []
    if download:
        got, failures = _try_mirrors(filename, folder, urls, md5)
        if got is not None:
            return got
    raise DataError(_missing_message(folder, [(filename, urls, failures)], download))


def fetch_all(files: Sequence[RemoteFile], folder: Path, *, download: bool = True) -> list[Path]:
    """Paths of every file in ``files`` (existing copies under any accepted name, else downloaded).

    Unlike calling :func:`fetch` in a loop, the error names every file still missing, in one line.
    """
    folder = Path(folder)
    paths: list[Path | None] = []
    missing = []
    down_hosts: set[str] = set()  # hosts that refused a connection are not tried again for the next files
    for rf in files:
        path = rf.local(folder)
        failures: list[str] = []
        if path is None and download:
            path, failures = _try_mirrors(rf.filename, folder, rf.urls, rf.md5, down_hosts)
        if path is None:
            missing.append((rf.filename, rf.urls, failures))
        paths.append(path)
    if missing:
        raise DataError(_missing_message(folder, missing, download))
    return [p for p in paths if p is not None]
