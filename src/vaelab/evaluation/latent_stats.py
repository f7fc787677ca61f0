"""Posterior statistics over a data set: active units (Burda et al. 2016) and KL per latent dimension."""

from __future__ import annotations

import torch


@torch.inference_mode()
def posterior_stats(model, x: torch.Tensor, batch_size: int = 1000, threshold: float = 0.01) -> dict:
    """Active units and the mean KL(q(z_d|x) || N(0,1)) of each latent dimension d, over the images x.

    A dimension is active when Cov_x(E_q[z_d | x]) = Var_x(mu_d(x)) > ``threshold`` (0.01 in the paper).
    """
    mus, kls = [], []
    for start in range(0, x.shape[0], batch_size):
        post = model.encode(x[start:start + batch_size])
        mu, logvar = post.mu.double(), post.logvar.double()  # (B, D)
        mus.append(mu)
        kls.append(0.5 * (mu * mu + logvar.exp() - logvar - 1))
    mu = torch.cat(mus)  # (N, D)
    activity = mu.var(0, unbiased=False)  # (D,)
    kl_per_dim = torch.cat(kls).mean(0)  # (D,)
    return {"active_units": int((activity > threshold).sum()), "active_threshold": threshold,
            "latent_dim": int(mu.shape[1]), "activity": activity.tolist(), "kl_per_dim": kl_per_dim.tolist()}
