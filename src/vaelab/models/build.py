"""Builds a LatentVariableModel from a ModelConfig: which encoder, posterior, prior, decoder and likelihood."""

from __future__ import annotations

from torch import nn

from vaelab.errors import ConfigError
from vaelab.models.config import ModelConfig
from vaelab.models.likelihoods import LikelihoodHead
from vaelab.models.model import LatentVariableModel
from vaelab.models.networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from vaelab.models.posteriors import GaussianPosterior, PointPosterior
from vaelab.models.priors import StandardNormalPrior


def build_networks(config: ModelConfig, encoder_out: int, decoder_params: int) -> tuple[nn.Module, nn.Module]:
    """Encoder (x -> encoder_out numbers) and decoder (z -> decoder_params * D numbers) for ``config``."""
    c = config.image_shape[0]
    if config.arch == "mlp":
        enc = MLPEncoder(config.image_shape, config.hidden, encoder_out, config.activation)
        dec = MLPDecoder(config.latent_dim, config.hidden, decoder_params * config.data_dim, config.activation)
    else:
        enc = ConvEncoder(config.image_shape, config.conv_channels, config.hidden, encoder_out, config.activation)
        dec = ConvDecoder(config.image_shape, config.conv_channels, config.hidden, config.latent_dim,
                          decoder_params * c, config.activation)
    return enc, dec


def build_model(config: ModelConfig) -> LatentVariableModel:
    """The model ``config`` describes (its image_shape and likelihood resolved, see ModelConfig.resolved)."""
    if config.image_shape is None or config.likelihood is None:
        raise ConfigError("build_model needs a resolved ModelConfig (image_shape and likelihood set): "
                          "use config.resolved(image_shape, data_kind)")
    likelihood = LikelihoodHead(config.likelihood, config.data_dim, config.gaussian_variance,
                                config.min_log_variance)
    vae = config.kind == "vae"
    posterior = GaussianPosterior() if vae else PointPosterior()
    encoder, decoder = build_networks(config, (2 if vae else 1) * config.latent_dim, likelihood.n_params)
    prior = StandardNormalPrior(config.latent_dim) if vae else None
    return LatentVariableModel(encoder, posterior, prior, decoder, likelihood, config.latent_dim,
                               config.image_shape, config)


def VAE(config: ModelConfig) -> LatentVariableModel:
    """Kingma & Welling's VAE: Gaussian q(z|x), N(0, I) prior, the config's likelihood."""
    if config.kind != "vae":
        raise ConfigError(f"VAE() builds kind 'vae', the config says {config.kind!r}")
    return build_model(config)


def Autoencoder(config: ModelConfig) -> LatentVariableModel:
    """The deterministic autoencoder baseline: the VAE's networks with a point code and no prior."""
    from dataclasses import replace

    return build_model(replace(config, kind="ae"))
