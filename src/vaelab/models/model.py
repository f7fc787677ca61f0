"""A latent-variable model made of parts: an encoder with its posterior family q(z|x), a prior p(z), and a
decoder with its likelihood p(x|z).

The VAE of Kingma & Welling (2014), its richer relatives (VampPrior, flow posteriors, two stochastic layers,
the conditional VAE), the deterministic autoencoder and probabilistic PCA are all instances of
``LatentVariableModel``; what differs is the parts. The objectives (models/objectives.py) and the importance
sampler (models/importance.py) are written once against this interface. Callers read capabilities
(``has_density``, ``is_stochastic``, ``is_conditional``, ``latent_layers``) instead of asking which kind of
model they hold.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution

from vaelab.errors import ConfigError
from vaelab.models.likelihoods import full_precision


class LatentVariableModel(nn.Module):
    """p(z) p(x|z) with an amortised q(z|x); with ``n_classes`` > 0, p(x|z, y) and q(z|x, y) (a conditional VAE).

    Parts (each an ``nn.Module``): ``encoder`` (x [, y] -> numbers) and ``posterior`` (numbers -> q(z|x)),
    ``prior`` (-> p(z)), ``decoder`` (z [, y] -> numbers) and ``likelihood`` (numbers -> p(x|z)). The names are
    the checkpoint's key prefixes (encoder.*, decoder.*, likelihood.*, prior.*).
    """

    def __init__(self, encoder: nn.Module, posterior: nn.Module, prior: nn.Module | None, decoder: nn.Module,
                 likelihood: nn.Module, latent_dim: int, image_shape: tuple[int, int, int], config=None,
                 n_classes: int = 0):
        super().__init__()
        # registration order fixes the parameter order, which last.safetensors indexes Adam's state and the
        # weight average by (optim.N.*, ema.N): the likelihood first, as vaelab 0.1 did; new parts last
        self.likelihood, self.encoder, self.posterior, self.decoder = likelihood, encoder, posterior, decoder
        self.prior = prior
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(image_shape)
        self.config = config
        self.n_classes = int(n_classes)

    # --- capabilities ------------------------------------------------------------------------------
    @property
    def has_density(self) -> bool:
        """True when the model defines p(x) (a prior and a posterior with a density): ELBO, log p(x), samples."""
        return self.prior is not None

    @property
    def is_stochastic(self) -> bool:
        """True when encoding draws noise (a VAE); False for a point code (the autoencoder)."""
        return self.posterior.noise_per_latent > 0

    @property
    def is_conditional(self) -> bool:
        """True for a conditional model: every call that touches x or p(x|z) takes the class label y."""
        return self.n_classes > 0

    @property
    def latent_layers(self) -> list[tuple[str, int, int]]:
        """(name, start, stop) of each stochastic layer's slice of z, bottom first: [('z', 0, D)], or
        [('z1', 0, D1), ('z2', D1, D1 + D2)] for two layers."""
        return list(self.posterior.layers)

    def condition(self, y: torch.Tensor | int | None, batch: int | None = None) -> torch.Tensor | None:
        """The one-hot label (B, K) a conditional model's networks read (None for an unconditional model);
        one clear error for a missing or unknown label."""
        if not self.is_conditional:
            return None
        if y is None:
            raise ConfigError("this model is conditional (--condition label): give the class label y "
                              f"(0..{self.n_classes - 1})")
        device = next(self.parameters()).device
        y = torch.as_tensor(y, device=device).long()
        if y.dim() == 0:
            y = y.expand(batch if batch is not None else 1)
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.n_classes):
            raise ConfigError(f"label {int(y.max()) if int(y.max()) >= self.n_classes else int(y.min())} is not "
                              f"one of the trained classes 0..{self.n_classes - 1}")
        return F.one_hot(y, self.n_classes).float()

    # --- the parts as distributions ----------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | int | None = None) -> Distribution:
        """q(z|x[, y]) for images x (B, C, H, W), batch shape (B,), event shape (D,); float32 under autocast."""
        return self.posterior(self.encoder(x, self.condition(y, x.shape[0])))

    def encode_top(self, x: torch.Tensor) -> Distribution:
        """q of the top stochastic layer (z itself with one layer, z2 with two): what a VampPrior is made of."""
        q = self.encode(x)
        return self.posterior.top_layer(q) if hasattr(self.posterior, "top_layer") else q

    def prior_distribution(self) -> Distribution:
        """p(z), event shape (D,)."""
        return self.prior(self.encode_top)

    def posterior_and_prior(self, x: torch.Tensor, y: torch.Tensor | int | None = None
                            ) -> tuple[Distribution, Distribution]:
        """q(z|x[, y]) and p(z) together. A prior made of posteriors (the VampPrior's q(z|u_k)) shares one
        encoder pass with the batch: the same numbers as ``encode`` and ``prior_distribution``, larger matrix
        products instead of two sets (``encoder.joint``)."""
        inputs = getattr(self.prior, "encoder_inputs", None)
        if inputs is None or self.is_conditional:
            return self.encode(x, y), self.prior_distribution()
        u = inputs()  # (K, C, H, W)
        out = self.encoder.joint(x, u)  # (B + K, n), as self.encoder(torch.cat([x, u]))
        q, q_u = self.posterior(out[: x.shape[0]]), self.posterior(out[x.shape[0]:])
        top = self.posterior.top_layer(q_u) if hasattr(self.posterior, "top_layer") else q_u
        return q, self.prior.from_posteriors(top)

    def decoder_distribution(self, z: torch.Tensor, y: torch.Tensor | int | None = None) -> Distribution:
        """p(x|z[, y]) over flattened pixels: batch shape z.shape[:-1], event shape (C*H*W,)."""
        return self.likelihood(self.decoder(z, self.condition(y, z.shape[-2] if z.dim() > 1 else 1)))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """log p(x|z[, y]) summed over pixels in float32, (L, B) for z (L, B, D) and images x (B, C, H, W).

        The same value as ``decoder_distribution(z).log_prob(x.flatten(1))``, by the likelihood's fast path."""
        return self.likelihood.log_prob(full_precision(self.decoder(z, self.condition(y, x.shape[0]))),
                                        x.flatten(1))

    def noise(self, samples: int, batch: int, generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor | None:
        """Standard-normal noise (samples, batch, noise_dim) that ``encode(x).rsample(eps=...)`` turns into z;
        None for a point code. Drawn outside the posterior so data-parallel ranks can share one draw."""
        if not self.is_stochastic:
            return None
        width = self.latent_dim * self.posterior.noise_per_latent
        dtype = next(self.parameters()).dtype  # float32, or float64 for the closed-form test models
        return torch.randn((samples, batch, width), generator=generator, device=device, dtype=dtype)

    @torch.no_grad()
    def initialise_from_data(self, x: torch.Tensor, generator: torch.Generator) -> None:
        """Data-dependent initialisation of a fresh model (a VampPrior's pseudo-inputs from training images);
        nothing for the other parts. Draws only from ``generator``."""
        if self.prior is not None and hasattr(self.prior, "initialise_from_data"):
            self.prior.initialise_from_data(x, generator)

    # --- using the model ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, samples: int = 1, beta: float = 1.0,
                generator: torch.Generator | None = None, eps: torch.Tensor | None = None,
                y: torch.Tensor | None = None, prior: Distribution | None = None):
        """The model's own bound on a batch: the pathwise ELBO (ELBOOutput), or for a model without a density
        the reconstruction log-likelihood (AEOutput). ``prior``: p(z) computed once for many batches (at
        evaluation, where the weights do not change: a VampPrior's components are then encoded once)."""
        from vaelab.models.objectives import elbo, reconstruction

        if not self.has_density:
            return reconstruction(self, x, y=y)
        return elbo(self, x, samples=samples, beta=beta, eps=eps, generator=generator, y=y, prior=prior)

    def decode(self, z: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """E[x|z[, y]] as images (..., C, H, W) for latents z (..., D)."""
        mean = self.likelihood.mean(self.decoder(z, self.condition(y, z.shape[-2] if z.dim() > 1 else 1)))
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
               generator: torch.Generator | None = None, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """n images (n, C, H, W) decoded from z ~ p(z) (of class y for a conditional model): the decoder mean, or
        a draw of p(x|z)."""
        z = self.sample_latents(n, temperature, generator)
        if mean:
            return self.decode(z, y)
        x = self.decoder_distribution(z, y).sample()
        return x.clamp(0, 1).reshape(n, *self.image_shape)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """Decoder mean at the posterior mean: (B, C, H, W)."""
        return self.decode(self.latent_mean(x, y=y), y)

    def latent_mean(self, x: torch.Tensor, samples: int = 64, generator: torch.Generator | None = None,
                    y: torch.Tensor | int | None = None) -> torch.Tensor:
        """E_q[z|x] (B, D): the posterior's mean where it has one in closed form, else a Monte-Carlo average
        of ``samples`` draws (a flow, two stochastic layers)."""
        return self.mean_of(self.encode(x, y), samples, generator)

    @staticmethod
    def mean_of(q: Distribution, samples: int = 64, generator: torch.Generator | None = None) -> torch.Tensor:
        """E_q[z] of an encoded q (batch (B,)): in closed form where q has one, else a ``samples``-draw average."""
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
