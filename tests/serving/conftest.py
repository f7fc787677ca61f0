"""Fixtures of the serving tests: small digits runs trained once per session, and test clients on them."""

from __future__ import annotations

import base64
import io
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="the serving tests need vaelab[serve] (fastapi, uvicorn) installed")

from vaelab.training import TrainConfig, train  # noqa: E402

SMALL = dict(dataset="digits", hidden=(64,), batch_size=64, device="cpu", epochs=5, warmup_epochs=0)


def make_client(app):
    """Starlette's test client (its httpx deprecation notice silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app)


def png_b64(pixels: np.ndarray) -> str:
    """uint8 (H, W) or (H, W, C) pixels as base64 PNG text."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_png(text: str) -> np.ndarray:
    """base64 PNG text -> uint8 array (H, W) or (H, W, C)."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))))


@pytest.fixture(scope="session")
def h():
    """Helpers: make_client(app), png_b64(pixels), decode_png(text)."""
    return SimpleNamespace(make_client=make_client, png_b64=png_b64, decode_png=decode_png)


@pytest.fixture(scope="session")
def serve_runs(tmp_path_factory):
    return tmp_path_factory.mktemp("serve_runs")


@pytest.fixture(scope="session")
def run2(serve_runs):
    """Gaussian VAE on the 8x8 digits with a 2-D latent (the map is z itself)."""
    torch.manual_seed(0)
    return train(TrainConfig.from_dict(dict(**SMALL, latent_dim=2, out=str(serve_runs / "d2"))), quiet=True)


@pytest.fixture(scope="session")
def run8(serve_runs):
    """Bernoulli VAE on thresholded digits with an 8-D latent (the map is PCA of z)."""
    torch.manual_seed(0)
    return train(TrainConfig.from_dict(dict(**SMALL, latent_dim=8, binarize="threshold", out=str(serve_runs / "d8"))), quiet=True)


@pytest.fixture(scope="session")
def app2(run2):
    from vaelab.serving.app import create_app

    return create_app(run2.run_dir)


@pytest.fixture(scope="session")
def app8(run8):
    from vaelab.serving.app import create_app

    return create_app(run8.run_dir)


@pytest.fixture(scope="session")
def client2(app2):
    with make_client(app2) as c:
        yield c


@pytest.fixture(scope="session")
def client8(app8):
    with make_client(app8) as c:
        yield c
