"""Deterministic autoencoder baseline: the VAE's networks, z = f(x), loss = -log p(x|z) only (no KL)."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.models.config import ModelConfig
from vaelab.models.likelihoods import LikelihoodHead, full_precision
from vaelab.models.outputs import AEOutput, Posterior
from vaelab.models.vae import build_networks


class Autoencoder(nn.Module):
    """Same encoder/decoder as the VAE, but a point code: there is no posterior, prior or likelihood bound."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.likelihood = LikelihoodHead(config.likelihood, config.data_dim, config.gaussian_variance,
                                         config.min_log_variance)
        self.encoder, self.decoder = build_networks(config, config.latent_dim, self.likelihood.n_params)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.config.image_shape

    def encode(self, x: torch.Tensor) -> Posterior:
        """The code as a degenerate posterior: mu = f(x), log sigma^2 = -inf (no spread)."""
        mu = self.encoder(x)  # (B, D)
        return Posterior(mu=mu, logvar=torch.full_like(mu, float("-inf")))

    def decoder_distribution(self, z: torch.Tensor) -> Distribution:
        return self.likelihood(self.decoder(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        mean = self.likelihood.mean(self.decoder(z))
        return mean.reshape(*z.shape[:-1], *self.image_shape)

    def reconstruction_loss(self, x: torch.Tensor) -> AEOutput:
        """-log p(x | z = f(x)) per example, averaged over the batch as the loss."""
        z = full_precision(self.encoder(x))  # (B, D)
        rec = self.likelihood.log_prob(full_precision(self.decoder(z)), x.flatten(1))  # (B,)
        return AEOutput(loss=-rec.mean(), reconstruction=rec, z=z)

    def forward(self, x: torch.Tensor, samples: int = 1, beta: float = 1.0,
                generator: torch.Generator | None = None, eps: torch.Tensor | None = None) -> AEOutput:
        """Same call signature as VAE.elbo so the training loop treats both alike; extra args are unused."""
        return self.reconstruction_loss(x)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encoder(x))

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, mean: bool = True,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Decodes N(0, t^2 I) codes; an autoencoder has no prior, so these are not samples of a model."""
        device = next(self.parameters()).device
        z = temperature * torch.randn((n, self.latent_dim), generator=generator, device=device)
        return self.decode(z)
