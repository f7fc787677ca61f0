"""Builds a LatentVariableModel from a ModelConfig: which encoder, posterior, prior, decoder and likelihood."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from vaelab.errors import ConfigError
from vaelab.models.config import ModelConfig
from vaelab.models.flows import IAFPosterior, PlanarPosterior
from vaelab.models.hierarchy import HierarchicalPosterior, HierarchicalPrior
from vaelab.models.likelihoods import LikelihoodHead
from vaelab.models.model import LatentVariableModel
from vaelab.models.networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, he_initialise
from vaelab.models.posteriors import GaussianPosterior, PointPosterior
from vaelab.models.priors import MixturePrior, StandardNormalPrior, VampPrior


def build_networks(config: ModelConfig, encoder_out: int, decoder_params: int,
                   latent_dim: int | None = None) -> tuple[nn.Module, nn.Module]:
    """Encoder (x [, y] -> encoder_out numbers) and decoder (z [, y] -> decoder_params * D numbers)."""
    c = config.image_shape[0]
    latent = latent_dim or config.latent_dim
    cond = config.n_classes or 0
    if config.arch == "mlp":
        enc = MLPEncoder(config.image_shape, config.hidden, encoder_out, config.activation, config.gated, cond)
        dec = MLPDecoder(latent, config.hidden, decoder_params * config.data_dim, config.activation, config.gated,
                         cond)
    else:
        enc = ConvEncoder(config.image_shape, config.conv_channels, config.hidden, encoder_out, config.activation,
                          config.gated, cond)
        dec = ConvDecoder(config.image_shape, config.conv_channels, config.hidden, latent, decoder_params * c,
                          config.activation, config.gated, cond)
    return enc, dec


def _prior(config: ModelConfig, latent_dim: int) -> nn.Module:
    """The single-layer prior over ``latent_dim`` numbers (the top layer's, with two layers)."""
    if config.prior == "vamp":
        return VampPrior(config.pseudo_inputs, config.image_shape)
    if config.prior == "mog":
        return MixturePrior(config.components, latent_dim)
    return StandardNormalPrior(latent_dim)


def _posterior(config: ModelConfig) -> nn.Module:
    bounds = config.logvar_bounds
    d = config.latent_dim
    if config.stochastic_layers == 2:
        d1, d2 = config.layer_sizes
        return HierarchicalPosterior(d1, d2, config.hidden[-1], config.activation, config.gated, bounds)
    if config.posterior == "iaf":
        return IAFPosterior(d, config.flow_steps, config.flow_hidden, config.hidden[-1], bounds)
    if config.posterior == "planar":
        return PlanarPosterior(d, config.flow_steps, bounds)
    return GaussianPosterior(d, bounds)


def build_model(config: ModelConfig) -> LatentVariableModel:
    """The model ``config`` describes (its image_shape and likelihood resolved, see ModelConfig.resolved)."""
    if config.image_shape is None or config.likelihood is None:
        raise ConfigError("build_model needs a resolved ModelConfig (image_shape and likelihood set): "
                          "use config.resolved(image_shape, data_kind)")
    if config.condition == "label" and not config.n_classes:
        raise ConfigError("a conditional model needs n_classes (resolve the config with the data's labels)")
    likelihood = LikelihoodHead(config.likelihood, config.data_dim, config.gaussian_variance,
                                config.min_log_variance, identity_mean=config.gaussian_mean == "identity")
    latent_total = sum(config.layer_sizes)
    if config.kind == "ae":
        posterior, prior = PointPosterior(config.latent_dim), None
    else:
        posterior = _posterior(config)
        prior = _prior(config, config.layer_sizes[-1])
        if config.stochastic_layers == 2:
            d1, d2 = config.layer_sizes
            prior = HierarchicalPrior(prior, d1, d2, config.hidden[-1], config.activation, config.gated,
                                      config.logvar_bounds)
    encoder, decoder = build_networks(config, posterior.n_inputs, likelihood.n_params, latent_total)
    if config.weight_init == "he":  # the networks, and a hierarchy's conditionals; flows keep their own set-up
        for part in (encoder, decoder, *((posterior, prior) if config.stochastic_layers == 2 else ())):
            he_initialise(part)
    return LatentVariableModel(encoder, posterior, prior, decoder, likelihood, latent_total, config.image_shape,
                               config, n_classes=config.n_classes or 0)


def VAE(config: ModelConfig) -> LatentVariableModel:
    """A VAE of the config's parts (Kingma & Welling's with the defaults: Gaussian q(z|x), N(0, I) prior)."""
    if config.kind != "vae":
        raise ConfigError(f"VAE() builds kind 'vae', the config says {config.kind!r}")
    return build_model(config)


def Autoencoder(config: ModelConfig) -> LatentVariableModel:
    """The deterministic autoencoder baseline: the VAE's networks with a point code and no prior."""
    return build_model(replace(config, kind="ae"))
