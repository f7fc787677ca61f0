"""Models: the VAE, the deterministic autoencoder baseline, their networks and likelihoods."""

from __future__ import annotations

from torch import nn

from vaelab.models.autoencoder import Autoencoder
from vaelab.models.config import ModelConfig
from vaelab.models.likelihoods import LikelihoodHead, check_likelihood, default_likelihood
from vaelab.models.outputs import AEOutput, ELBOOutput, Posterior
from vaelab.models.vae import VAE


def build_model(config: ModelConfig) -> VAE | Autoencoder:
    """The model named by ``config.model`` ('vae' or 'ae')."""
    return VAE(config) if config.model == "vae" else Autoencoder(config)


__all__ = ["VAE", "Autoencoder", "ModelConfig", "LikelihoodHead", "ELBOOutput", "AEOutput", "Posterior",
           "build_model", "check_likelihood", "default_likelihood"]
