"""Named outputs of the models' forward passes (never positional tuples)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import Distribution, Independent, Normal


@dataclass
class Posterior:
    """q(z|x) = N(mu, diag sigma^2), from the encoder's mu and log sigma^2, each (B, D)."""

    mu: torch.Tensor
    logvar: torch.Tensor

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def distribution(self) -> Distribution:
        return Independent(Normal(self.mu, self.std, validate_args=False), 1)


@dataclass
class ELBOOutput:
    """Per-example terms of the ELBO in nats (summed over pixels and latent dims) and the training loss.

    elbo = reconstruction - kl, with reconstruction = E_q[log p(x|z)] averaged over the L samples and kl
    the analytic KL(q(z|x) || N(0, I)). ``loss`` = mean over the batch of -(reconstruction - beta * kl).
    """

    loss: torch.Tensor  # () scalar to minimise
    elbo: torch.Tensor  # (B,)
    reconstruction: torch.Tensor  # (B,)
    kl: torch.Tensor  # (B,)
    z: torch.Tensor  # (L, B, D) the samples used
    posterior: Posterior
    iwae: torch.Tensor | None = None  # (B,) IWAE_k bound, when the objective is IWAE

    @property
    def objective(self) -> torch.Tensor:
        """Per-example value that model selection maximises: the ELBO."""
        return self.elbo

    def metrics(self) -> dict[str, torch.Tensor]:
        """Per-example metric tensors (B,) by name."""
        out = {"elbo": self.elbo, "reconstruction": self.reconstruction, "kl": self.kl}
        if self.iwae is not None:
            out["iwae"] = self.iwae
        return out


@dataclass
class AEOutput:
    """Deterministic autoencoder: reconstruction log-likelihood log p(x|z=f(x)) per example; no ELBO."""

    loss: torch.Tensor  # () mean negative reconstruction log-likelihood
    reconstruction: torch.Tensor  # (B,)
    z: torch.Tensor  # (B, D)

    @property
    def objective(self) -> torch.Tensor:
        return self.reconstruction

    def metrics(self) -> dict[str, torch.Tensor]:
        return {"reconstruction": self.reconstruction}
