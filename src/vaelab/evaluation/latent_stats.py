"""Posterior statistics over a data set: active units (Burda et al. 2016) and the KL, per latent dimension and
per stochastic layer."""

from __future__ import annotations

import torch
from torch.distributions import kl_divergence

from vaelab.models.objectives import layer_kls


@torch.inference_mode()
def posterior_stats(model, x: torch.Tensor, batch_size: int = 1000, threshold: float = 0.01,
                    y: torch.Tensor | None = None, samples: int = 16, seed: int = 0, mc_samples: int = 256) -> dict:
    """Active units, the mean KL(q(z_d|x) || p(z_d)) of each latent dimension d, and each layer's mean KL.

    A dimension is active when Cov_x(E_q[z_d | x]) > ``threshold`` (0.01 in the paper); E_q[z|x] is the
    posterior's mean, or where it has none in closed form (a flow, two layers) a Monte-Carlo average of
    ``mc_samples`` draws, whose own noise (E_x Var_q(z_d|x) / S, estimated from the same draws) is subtracted
    from the variance over x. The KL per dimension is given where q and p factorise over dimensions with a
    closed form (else None); the KL per layer is analytic for one Gaussian layer and a ``samples``-draw
    Monte-Carlo estimate otherwise.
    """
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    means, kls, layer, mc_noise = [], [], {}, []
    p = model.prior_distribution()
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        yb = None if y is None else y[start:start + batch_size]
        q = model.encode(xb, yb)
        try:
            means.append(q.mean.double())  # (B, D), in closed form
        except NotImplementedError:
            draws = q.rsample((mc_samples,), generator=gen).double()  # (S, B, D)
            means.append(draws.mean(0))
            mc_noise.append(draws.var(0) / mc_samples)  # (B, D): the variance of that mean's own noise
        kls.append(_kl_per_dim(q, p))
        z, log_q = q.rsample_with_log_prob(samples, generator=gen)  # (S, B, D), (S, B)
        for name, kl in layer_kls(q, p, z, model, log_q).items():
            layer[name] = layer.get(name, 0.0) + float(kl.double().sum())
    mu = torch.cat(means)  # (N, D)
    activity = mu.var(0, unbiased=False)  # (D,)
    if mc_noise:
        activity = (activity - torch.cat(mc_noise).mean(0)).clamp_min(0)
    kl_per_dim = None if any(k is None for k in kls) else torch.cat(kls).mean(0).tolist()  # (D,)
    out = {"active_units": int((activity > threshold).sum()), "active_threshold": threshold,
           "latent_dim": int(mu.shape[1]), "activity": activity.tolist(), "kl_per_dim": kl_per_dim}
    if len(model.latent_layers) > 1:
        out["layers"] = {name: {"size": stop - start, "active_units": int((activity[start:stop] > threshold).sum()),
                                "kl": layer[name] / x.shape[0]}
                         for name, start, stop in model.latent_layers}
    return out


def _kl_per_dim(q, p) -> torch.Tensor | None:
    """KL of each latent dimension (B, D) where both are products of 1-D distributions with a closed form."""
    try:
        return kl_divergence(q.base_dist, p.base_dist).double().expand(q.batch_shape + q.event_shape)
    except (AttributeError, NotImplementedError):
        return None
