"""Shared fixtures: where the real data files are, and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VAELAB_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real published data files (../shared/data); tests that need them skip when it is absent."""
    if not (SHARED_DATA / "binarized_mnist").is_dir():
        pytest.skip(f"{SHARED_DATA} not found: real-data tests need the shared data folder beside the repo")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield
