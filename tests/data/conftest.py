"""Fixtures of the data tests: the shared real-data folder, a network guard, and one-line error checks."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

import vaelab.data.download as dl

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIP_REASON = "../shared/data not found: real-data tests need the shared data folder beside the repo"


def _shared_dir() -> Path:
    env = os.environ.get("VAELAB_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder (../shared/data beside the repo, or $VAELAB_SHARED_DATA); skips if absent."""
    path = _shared_dir()
    if not path.is_dir():
        pytest.skip(f"{SKIP_REASON} (looked in {path})")
    return path


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never touch the network: only file:// URLs reach the real urlopen."""
    real = urllib.request.urlopen

    def guarded(url, *args, **kwargs):
        target = url.full_url if hasattr(url, "full_url") else str(url)
        if urllib.parse.urlsplit(target).scheme != "file":
            raise urllib.error.URLError("network disabled in tests")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(dl, "urlopen", guarded)


@contextmanager
def _raises_one_line(exc_type, *needles: str):
    with pytest.raises(exc_type) as info:
        yield info
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg, f"message is not one line: {msg!r}"
    for needle in needles:
        assert needle in msg, f"{needle!r} not in message {msg!r}"


@pytest.fixture
def raises_one_line():
    """Context manager factory: ``with raises_one_line(DataError, "file.gz", "expected ..."):``."""
    return _raises_one_line
