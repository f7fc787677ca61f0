"""Posterior statistics over a data set: active units (Burda et al. 2016) and KL per latent dimension."""

from __future__ import annotations

import torch
from torch.distributions import kl_divergence


@torch.inference_mode()
def posterior_stats(model, x: torch.Tensor, batch_size: int = 1000, threshold: float = 0.01) -> dict:
    """Active units and the mean KL(q(z_d|x) || p(z_d)) of each latent dimension d, over the images x.

    A dimension is active when Cov_x(E_q[z_d | x]) > ``threshold`` (0.01 in the paper); E_q[z|x] is the
    posterior's mean, or a Monte-Carlo average where it has none in closed form (a flow). The KL per
    dimension is given where q and p factorise over dimensions with a closed form (else ``kl_per_dim`` is None).
    """
    means, kls = [], []
    p = model.prior_distribution()
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        q = model.encode(xb)
        means.append(model.latent_mean(xb).double())  # (B, D)
        kls.append(_kl_per_dim(q, p))
    mu = torch.cat(means)  # (N, D)
    activity = mu.var(0, unbiased=False)  # (D,)
    kl_per_dim = None if any(k is None for k in kls) else torch.cat(kls).mean(0).tolist()  # (D,)
    return {"active_units": int((activity > threshold).sum()), "active_threshold": threshold,
            "latent_dim": int(mu.shape[1]), "activity": activity.tolist(), "kl_per_dim": kl_per_dim}


def _kl_per_dim(q, p) -> torch.Tensor | None:
    """KL of each latent dimension (B, D) where both are products of 1-D distributions with a closed form."""
    try:
        return kl_divergence(q.base_dist, p.base_dist).double().expand(q.batch_shape + q.event_shape)
    except (AttributeError, NotImplementedError):
        return None
