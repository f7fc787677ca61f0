"""The variational auto-encoder of Kingma & Welling (2014).

Gaussian encoder q(z|x) = N(mu(x), diag sigma^2(x)), prior p(z) = N(0, I), decoder p(x|z) from a
likelihood head; the ELBO uses the analytic KL and L reparameterized samples z = mu + sigma * eps.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from vaelab.models.config import ModelConfig
from vaelab.models.likelihoods import LikelihoodHead, full_precision
from vaelab.models.networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from vaelab.models.outputs import ELBOOutput, Posterior


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


class VAE(nn.Module):
    """A VAE with named outputs: ``encode``, ``decode``, ``sample``, ``reconstruct`` and ``elbo``."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.likelihood = LikelihoodHead(config.likelihood, config.data_dim, config.gaussian_variance,
                                         config.min_log_variance)
        self.encoder, self.decoder = build_networks(config, 2 * config.latent_dim, self.likelihood.n_params)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.config.image_shape

    def encode(self, x: torch.Tensor) -> Posterior:
        """q(z|x) for images x (B, C, H, W): mu and log sigma^2, each (B, D), float32 even under autocast."""
        mu, logvar = full_precision(self.encoder(x)).chunk(2, dim=-1)
        return Posterior(mu=mu, logvar=logvar)

    @staticmethod
    def reparameterize(posterior: Posterior, samples: int = 1, generator: torch.Generator | None = None,
                       eps: torch.Tensor | None = None) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): (L, B, D), differentiable in mu and log sigma^2.

        ``eps`` (L, B, D) may be given (the training loop draws it for the global batch, so that every
        data-parallel rank uses its slice of the same noise as a single process would)."""
        mu = posterior.mu
        if eps is None:
            eps = torch.randn((samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + posterior.std * eps

    def decoder_distribution(self, z: torch.Tensor) -> Distribution:
        """p(x|z) over flattened pixels: batch shape z.shape[:-1], event shape (C*H*W,)."""
        return self.likelihood(self.decoder(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] as images (..., C, H, W) for latents z (..., D)."""
        mean = self.likelihood.mean(self.decoder(z))
        return mean.reshape(*z.shape[:-1], *self.image_shape)

    def prior(self, like: torch.Tensor) -> Distribution:
        """p(z) = N(0, I) with the shape, device and dtype of ``like`` (B, D)."""
        zeros = torch.zeros_like(like)
        return Independent(Normal(zeros, torch.ones_like(like), validate_args=False), 1)

    def elbo(self, x: torch.Tensor, samples: int = 1, beta: float = 1.0,
             generator: torch.Generator | None = None, eps: torch.Tensor | None = None) -> ELBOOutput:
        """ELBO terms for x (B, C, H, W) with L = ``samples`` Monte-Carlo samples; ``beta`` weighs the KL
        in ``loss`` only (the reported ``elbo`` is always the true bound)."""
        posterior = self.encode(x)  # mu, logvar: (B, D)
        z = self.reparameterize(posterior, samples, generator, eps)  # (L, B, D)
        # log p(x|z) (L, B), summed over pixels in float32; the same value as decoder_distribution(z).log_prob(x)
        reconstruction = self.likelihood.log_prob(full_precision(self.decoder(z)), x.flatten(1)).mean(0)  # (B,)
        q = posterior.distribution()
        kl = kl_divergence(q, self.prior(posterior.mu))  # (B,) analytic
        elbo = reconstruction - kl
        loss = -(reconstruction - beta * kl).mean() if beta != 1.0 else -elbo.mean()
        return ELBOOutput(loss=loss, elbo=elbo, reconstruction=reconstruction, kl=kl, z=z, posterior=posterior)

    forward = elbo

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, mean: bool = True,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (n, C, H, W) decoded from z ~ N(0, temperature^2 I): the decoder mean, or a draw of p(x|z)."""
        device = next(self.parameters()).device
        z = temperature * torch.randn((n, self.latent_dim), generator=generator, device=device)
        if mean:
            return self.decode(z)
        x = self.decoder_distribution(z).sample()
        return x.clamp(0, 1).reshape(n, *self.image_shape)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the posterior mean: (B, C, H, W)."""
        return self.decode(self.encode(x).mu)
