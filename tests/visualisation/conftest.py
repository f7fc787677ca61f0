"""Small models the visualisation tests share: trained once per session on the bundled 8x8 digits."""

from __future__ import annotations

import pytest

import vaelab


def _train(out, **overrides):
    config = dict(dataset="digits", hidden=(64, 64), latent_dim=4, epochs=20, batch_size=64, seed=0,
                  device="cpu", warmup_epochs=0, out=str(out))
    return vaelab.train(vaelab.TrainConfig.from_dict(dict(**{**config, **overrides})), quiet=True)


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A 4-D latent Gaussian VAE on digits (labels 0..9)."""
    return _train(tmp_path_factory.mktemp("vis") / "d4")


@pytest.fixture(scope="session")
def digits_run_2d(tmp_path_factory):
    """A 2-D latent Gaussian VAE on digits, for the manifold."""
    return _train(tmp_path_factory.mktemp("vis") / "d2", latent_dim=2)


@pytest.fixture(scope="session")
def ae_run(tmp_path_factory):
    """A deterministic autoencoder (no prior): figures that need a VAE must refuse it."""
    return _train(tmp_path_factory.mktemp("vis") / "ae", model="ae", epochs=2, hidden=(16,))
