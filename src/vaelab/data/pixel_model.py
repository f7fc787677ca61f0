"""Independent pixels: a background model fitted in one pass, each pixel's level drawn from its own histogram.

The likelihood-ratio score (Ren et al. 2019) divides a VAE's p(x) by a background model's, so that what both
explain (how much background an image has, how often each pixel is on) cancels and what only the VAE explains
(strokes that fit together into a shape) remains. Ren et al. train a second VAE on inputs whose pixels are
replaced, at a rate mu, by uniform values; this background needs no training: P_pix(x) = prod_d P_d(x_d), with
P_d the level distribution of pixel d in those same perturbed inputs, (1 - mu) f_d + mu / levels, f_d the
training split's level frequencies under the Krichevsky-Trofimov (add-1/2) estimate. The perturbation keeps the
background broad: without it, a pixel never on in training costs ~9 nats when on, so an image of noise or a face
is less likely under the background than under the VAE and the ratio calls it normal.

Levels are the input as the model sees it (data/complexity.py's ``quantise``): 2 for binary pixels, 256 for
8-bit gray.
"""

from __future__ import annotations

import numpy as np
import torch

from vaelab.data.complexity import level_offset, quantise
from vaelab.errors import DataError

KT_PSEUDOCOUNT = 0.5  # Krichevsky-Trofimov: the add-1/2 estimate, minimax for universal coding; no tuning


class IndependentPixels:
    """A product of per-pixel categorical distributions over levels: ``log_prob(x)`` (N,) in nats."""

    def __init__(self, log_probs: np.ndarray, binary: bool, image_shape: tuple[int, int, int],
                 perturbation: float = 0.0):
        self.log_probs = log_probs  # (D, levels) float64, each row a normalised log-distribution
        self.binary = binary
        self.image_shape = tuple(int(s) for s in image_shape)
        self.perturbation = perturbation

    @classmethod
    def fit(cls, x: torch.Tensor, binary: bool, perturbation: float = 0.0,
            pseudocount: float = KT_PSEUDOCOUNT) -> "IndependentPixels":
        """The per-pixel level distributions of images x (N, C, H, W) in [0, 1] (0/1 only where ``binary``) with
        each pixel replaced at rate ``perturbation`` by a uniform level; each count raised by ``pseudocount``."""
        if x.dim() != 4 or x.shape[0] == 0:
            raise DataError(f"expected a non-empty batch of images (N, C, H, W), got shape {tuple(x.shape)}")
        if not 0 <= perturbation <= 1:
            raise DataError(f"perturbation rate must be in [0, 1], got {perturbation}")
        q = quantise(x, binary).reshape(x.shape[0], -1)  # (N, D) uint8 levels
        levels = 2 if binary else 256
        d = q.shape[1]
        counts = np.zeros((d, levels), dtype=np.float64)  # (D, levels)
        np.add.at(counts, (np.broadcast_to(np.arange(d), q.shape), q), 1.0)
        counts += pseudocount
        probs = (1 - perturbation) * counts / counts.sum(1, keepdims=True) + perturbation / levels  # (D, levels)
        return cls(np.log(probs), binary, tuple(x.shape[1:]), perturbation)

    def log_prob(self, x: torch.Tensor) -> np.ndarray:
        """log P_pix(x) in nats for each image of x (N, C, H, W) in [0, 1]: (N,) float64."""
        if tuple(x.shape[1:]) != self.image_shape:
            raise DataError(f"the pixel background takes images of shape {self.image_shape}, got "
                            f"{tuple(x.shape[1:])}")
        q = quantise(x, self.binary).reshape(x.shape[0], -1)  # (N, D)
        return self.log_probs[np.arange(q.shape[1]), q].sum(1)  # (N,)

    def density_nll(self, x: torch.Tensor) -> np.ndarray:
        """-log of the background's density (binary: probability) at x, (N,) nats, in the units of the VAE's
        -log p(x) (data/complexity.py's ``level_offset``): what a ratio subtracts."""
        return -self.log_prob(x) - level_offset(self.image_shape, self.binary)
