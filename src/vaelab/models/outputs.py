"""Named outputs of the objectives (never positional tuples)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import Distribution


@dataclass
class ELBOOutput:
    """Per-example terms of the ELBO in nats (summed over pixels and latent dims) and the training loss.

    elbo = reconstruction - kl, with reconstruction = E_q[log p(x|z)] averaged over the L samples and kl
    = KL(q(z|x) || p(z)), analytic where a closed form exists, else the Monte-Carlo estimate of the same
    samples. ``loss`` is what the estimator differentiates (a surrogate: its value need not be -elbo).
    """

    loss: torch.Tensor  # () scalar to minimise
    elbo: torch.Tensor  # (B,)
    reconstruction: torch.Tensor  # (B,)
    kl: torch.Tensor  # (B,)
    z: torch.Tensor  # (L, B, D) the samples used
    posterior: Distribution  # q(z|x), batch shape (B,)
    iwae: torch.Tensor | None = None  # (B,) IWAE_k bound, when the objective is IWAE

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

    def metrics(self) -> dict[str, torch.Tensor]:
        return {"reconstruction": self.reconstruction}
