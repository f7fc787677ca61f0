"""The baselines of benchmarks/anomaly.py: anomaly scores that need no VAE likelihood, each fitted on the normal
training images as the model sees them (thresholded for the Bernoulli model). Every score: higher = more
anomalous, (N,) float64.

- IsolationForest on the pixels (scikit-learn, 100 trees): -score_samples.
- PCA reconstruction error: squared distance to the d-dimensional principal subspace (d = the VAE's latent size).
- The deterministic autoencoder's reconstruction error: squared distance between x and decode(encode(x)).
- Mahalanobis distance of the VAE's posterior mean E_q[z|x] to the training set's (one Gaussian: no labels),
  and the class-conditional version (Lee et al. 2018: class means, one shared covariance, the nearest class),
  which uses the normal classes' labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

RIDGE = 1e-6  # added to the covariance's diagonal, relative to its mean variance


def flat(x: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) as rows (N, C*H*W) float64."""
    return x.reshape(x.shape[0], -1).double().numpy()


@dataclass
class Forest:
    model: Any

    @classmethod
    def fit(cls, train: torch.Tensor, seed: int) -> "Forest":
        from sklearn.ensemble import IsolationForest

        return cls(IsolationForest(n_estimators=100, random_state=seed).fit(flat(train)))

    def score(self, x: torch.Tensor) -> np.ndarray:
        return -self.model.score_samples(flat(x))


@dataclass
class PCAError:
    mean: np.ndarray  # (P,)
    basis: np.ndarray  # (d, P) orthonormal rows

    @classmethod
    def fit(cls, train: torch.Tensor, components: int) -> "PCAError":
        a = flat(train)
        mean = a.mean(0)
        _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
        return cls(mean, vt[:components])

    def score(self, x: torch.Tensor) -> np.ndarray:
        c = flat(x) - self.mean  # (N, P)
        return np.square(c - (c @ self.basis.T) @ self.basis).sum(1)


def reconstruction_error(run: Any, x: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """||x - decode(encode(x))||^2 per image with a run's model (the autoencoder's code, or a VAE's mean)."""
    out = []
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size]
            out.append((xb - run.model.reconstruct(xb)).square().flatten(1).sum(1).double())
    return torch.cat(out).numpy()


def posterior_means(run: Any, x: torch.Tensor) -> np.ndarray:
    from vaelab.models.batched import posterior_means as means

    return means(run.model, x).double().numpy()


@dataclass
class Mahalanobis:
    """Squared Mahalanobis distance of posterior means to one Gaussian, or (with labels) to the nearest class
    mean under a covariance shared by the classes."""

    means: np.ndarray  # (K, D)
    precision: np.ndarray  # (D, D)

    @classmethod
    def fit(cls, mu: np.ndarray, labels: np.ndarray | None = None) -> "Mahalanobis":
        if labels is None:
            means = mu.mean(0, keepdims=True)
            centred = mu - means
        else:
            classes = np.unique(labels)
            means = np.stack([mu[labels == c].mean(0) for c in classes])
            centred = mu - means[np.searchsorted(classes, labels)]
        cov = centred.T @ centred / max(mu.shape[0] - means.shape[0], 1)
        cov += RIDGE * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
        return cls(means, np.linalg.inv(cov))

    def score(self, mu: np.ndarray) -> np.ndarray:
        d = mu[:, None, :] - self.means[None]  # (N, K, D)
        return np.einsum("nkd,de,nke->nk", d, self.precision, d).min(1)
