"""Network shapes for any image size and channel count; the autoencoder baseline."""

from __future__ import annotations

import pytest
import torch

from vaelab.errors import ConfigError
from vaelab.models import ModelConfig, VAE, build_model
from vaelab.models.objectives import elbo


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 28, 20), (3, 13, 7), (1, 8, 8), (3, 1, 5)])
@pytest.mark.parametrize("likelihood,variance", [("bernoulli", "pixel"), ("gaussian", "pixel"),
                                                 ("gaussian", "network"), ("continuous-bernoulli", "pixel")])
def test_shapes_for_any_image_size(arch, shape, likelihood, variance):
    cfg = ModelConfig(image_shape=shape, arch=arch, latent_dim=3, hidden=(8,), likelihood=likelihood,
                      gaussian_variance=variance, conv_channels=(4, 8))
    vae = VAE(cfg)
    x = torch.rand(5, *shape)
    post = vae.encode(x)
    assert post.mu.shape == (5, 3) and post.logvar.shape == (5, 3)
    out = elbo(vae, x, samples=2)
    assert out.z.shape == (2, 5, 3)
    assert out.elbo.shape == out.kl.shape == out.reconstruction.shape == (5,)
    assert vae.decode(torch.randn(7, 3)).shape == (7, *shape)
    assert vae.decode(torch.randn(2, 7, 3)).shape == (2, 7, *shape)
    imgs = vae.sample(4)
    assert imgs.shape == (4, *shape) and imgs.min() >= 0 and imgs.max() <= 1
    assert vae.reconstruct(x).shape == x.shape


def test_mlp_layout_follows_hidden_sizes_and_activation():
    vae = VAE(ModelConfig(image_shape=(1, 28, 28), hidden=(512, 256), latent_dim=32, activation="tanh",
                          likelihood="bernoulli"))
    lin = [m for m in vae.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(784, 512), (512, 256), (256, 64)]
    lin = [m for m in vae.decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(32, 256), (256, 512), (512, 784)]
    assert sum(isinstance(m, torch.nn.Tanh) for m in vae.encoder.modules()) == 2


def test_autoencoder_uses_reconstruction_only():
    cfg = ModelConfig(image_shape=(1, 8, 8), kind="ae", latent_dim=2, hidden=(16,), likelihood="bernoulli")
    ae = build_model(cfg)
    assert not ae.has_density and not ae.is_stochastic and ae.noise(1, 4) is None
    x = torch.rand(4, 1, 8, 8).round()
    out = ae(x)
    z = ae.encoder(x)
    torch.testing.assert_close(ae.encode(x).mean, z)
    expected = ae.decoder_distribution(z).log_prob(x.flatten(1))
    torch.testing.assert_close(out.reconstruction, expected)
    torch.testing.assert_close(out.loss, -expected.mean())
    assert set(out.metrics()) == {"reconstruction"}


@pytest.mark.parametrize("field,value,message", [("arch", "rnn", "unknown arch 'rnn'"),
                                                 ("likelihood", "poisson", "unknown likelihood"),
                                                 ("latent_dim", 0, "latent_dim must be >= 1"),
                                                 ("activation", "gelu", "expected one of tanh, relu")])
def test_bad_model_options(field, value, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**{field: value})
