"""A latent-variable model made of parts: an encoder with its posterior family q(z|x), a prior p(z), and a
decoder with its likelihood p(x|z).

The VAE of Kingma & Welling (2014), the deterministic autoencoder and probabilistic PCA are all instances
of ``LatentVariableModel``; what differs is the parts. The objectives (models/objectives.py) and the
importance sampler (models/importance.py) are written once against this interface. Callers read
capabilities (``has_density``, ``is_stochastic``) instead of asking which kind of model they hold.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution

from vaelab.models.likelihoods import full_precision


class LatentVariableModel(nn.Module):
    """p(z) p(x|z) with an amortised q(z|x).

    Parts (each an ``nn.Module``): ``encoder`` (x -> numbers) and ``posterior`` (numbers -> q(z|x)),
    ``prior`` (-> p(z)), ``decoder`` (z -> numbers) and ``likelihood`` (numbers -> p(x|z)). The names are
    the checkpoint's key prefixes (encoder.*, decoder.*, likelihood.*, prior.*).
    """

    def __init__(self, encoder: nn.Module, posterior: nn.Module, prior: nn.Module | None, decoder: nn.Module,
                 likelihood: nn.Module, latent_dim: int, image_shape: tuple[int, int, int], config=None):
        super().__init__()
        # registration order fixes the parameter order, which last.safetensors indexes Adam's state and the
        # weight average by (optim.N.*, ema.N): the likelihood first, as vaelab 0.1 did; new parts last
        self.likelihood, self.encoder, self.posterior, self.decoder = likelihood, encoder, posterior, decoder
        self.prior = prior
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(image_shape)
        self.config = config

    # --- capabilities ------------------------------------------------------------------------------
    @property
    def has_density(self) -> bool:
        """True when the model defines p(x) (a prior and a posterior with a density): ELBO, log p(x), samples."""
        return self.prior is not None

    @property
    def is_stochastic(self) -> bool:
        """True when encoding draws noise (a VAE); False for a point code (the autoencoder)."""
        return self.posterior.noise_per_latent > 0

    # --- the parts as distributions ----------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x) for images x (B, C, H, W), batch shape (B,), event shape (D,); float32 under autocast."""
        return self.posterior(self.encoder(x))

    def prior_distribution(self) -> Distribution:
        """p(z), event shape (D,)."""
        return self.prior(self.encode)

    def decoder_distribution(self, z: torch.Tensor) -> Distribution:
        """p(x|z) over flattened pixels: batch shape z.shape[:-1], event shape (C*H*W,)."""
        return self.likelihood(self.decoder(z))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels in float32, (L, B) for z (L, B, D) and images x (B, C, H, W).

        The same value as ``decoder_distribution(z).log_prob(x.flatten(1))``, by the likelihood's fast path."""
        return self.likelihood.log_prob(full_precision(self.decoder(z)), x.flatten(1))

    def noise(self, samples: int, batch: int, generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor | None:
        """Standard-normal noise (samples, batch, noise_dim) that ``encode(x).rsample(eps=...)`` turns into z;
        None for a point code. Drawn outside the posterior so data-parallel ranks can share one draw."""
        if not self.is_stochastic:
            return None
        width = self.latent_dim * self.posterior.noise_per_latent
        dtype = next(self.parameters()).dtype  # float32, or float64 for the closed-form test models
        return torch.randn((samples, batch, width), generator=generator, device=device, dtype=dtype)

    # --- using the model ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, samples: int = 1, beta: float = 1.0,
                generator: torch.Generator | None = None, eps: torch.Tensor | None = None):
        """The model's own bound on a batch: the pathwise ELBO (ELBOOutput), or for a model without a density
        the reconstruction log-likelihood (AEOutput)."""
        from vaelab.models.objectives import elbo, reconstruction

        if not self.has_density:
            return reconstruction(self, x)
        return elbo(self, x, samples=samples, beta=beta, eps=eps, generator=generator)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] as images (..., C, H, W) for latents z (..., D)."""
        mean = self.likelihood.mean(self.decoder(z))
        return mean.reshape(*z.shape[:-1], *self.image_shape)

    @torch.no_grad()
    def sample_latents(self, n: int, temperature: float = 1.0,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes z ~ p(z) (at ``temperature``): (n, D). A model without a prior (the autoencoder) decodes
        N(0, t^2 I) codes, which are not samples of any model."""
        if self.prior is None:
            device = next(self.parameters()).device
            return temperature * torch.randn((n, self.latent_dim), generator=generator, device=device)
        return self.prior_distribution().draw(n, temperature, generator)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, mean: bool = True,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (n, C, H, W) decoded from z ~ p(z): the decoder mean, or a draw of p(x|z)."""
        z = self.sample_latents(n, temperature, generator)
        if mean:
            return self.decode(z)
        x = self.decoder_distribution(z).sample()
        return x.clamp(0, 1).reshape(n, *self.image_shape)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the posterior mean: (B, C, H, W)."""
        return self.decode(self.latent_mean(x))

    def latent_mean(self, x: torch.Tensor, samples: int = 64,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """E_q[z|x] (B, D): the posterior's mean where it has one in closed form, else a Monte-Carlo average
        of ``samples`` draws."""
        q = self.encode(x)
        try:
            return q.mean
        except NotImplementedError:
            return q.rsample((samples,), generator=generator).mean(0)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Variational parameters phi ('encoder') and generative parameters theta ('decoder', with the
        likelihood's and the prior's own)."""
        encoder = list(self.encoder.parameters()) + list(self.posterior.parameters())
        decoder = list(self.decoder.parameters()) + list(self.likelihood.parameters())
        if self.prior is not None:
            decoder += list(self.prior.parameters())
        return {"encoder": encoder, "decoder": decoder}
