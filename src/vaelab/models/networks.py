"""Encoder and decoder networks: MLPs and convolutional nets for any image size and channel count.

Encoders map x (B, C, H, W) to a flat vector (B, out_dim); decoders map z (..., D) to a flat
parameter vector (..., out_dim). The likelihood head decides what those numbers mean.
"""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """x (B, C, H, W) -> flatten -> hidden layers -> (B, out_dim)."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: tuple[int, ...], out_dim: int, activation: str):
        super().__init__()
        c, h, w = image_shape
        self.net = mlp([c * h * w, *hidden, out_dim], activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))  # (B, out_dim)


class MLPDecoder(nn.Module):
    """z (..., D) -> hidden layers (encoder's in reverse) -> (..., out_dim)."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], out_dim: int, activation: str):
        super().__init__()
        self.net = mlp([latent_dim, *reversed(hidden), out_dim], activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def _conv_sizes(h: int, w: int, n: int) -> list[tuple[int, int]]:
    """Spatial sizes after each of ``n`` stride-2 convolutions (kernel 3, padding 1): ceil(size / 2)."""
    sizes = [(h, w)]
    for _ in range(n):
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


class ConvEncoder(nn.Module):
    """Stride-2 convolutions (3x3) then an MLP head; works for any (C, H, W)."""

    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, ...], hidden: tuple[int, ...],
                 out_dim: int, activation: str):
        super().__init__()
        c, h, w = image_shape
        act = _ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        for cin, cout in zip((c, *channels[:-1]), channels):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), act()]
        self.conv = nn.Sequential(*layers)
        fh, fw = _conv_sizes(h, w, len(channels))[-1]
        self.head = mlp([channels[-1] * fh * fw, *hidden, out_dim], activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).flatten(1))  # (B, out_dim)


class ConvDecoder(nn.Module):
    """MLP to a small feature map, then stride-2 transposed convolutions back to exactly (H, W)."""

    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, ...], hidden: tuple[int, ...],
                 latent_dim: int, out_channels: int, activation: str):
        super().__init__()
        _, h, w = image_shape
        act = _ACTIVATIONS[activation]
        sizes = _conv_sizes(h, w, len(channels))  # [(H, W), ..., (h_min, w_min)]
        self.feature_shape = (channels[-1], *sizes[-1])
        n_feat = channels[-1] * sizes[-1][0] * sizes[-1][1]
        self.head = nn.Sequential(mlp([latent_dim, *reversed(hidden), n_feat], activation), act())
        layers: list[nn.Module] = []
        rev = list(reversed(channels))  # e.g. [64, 32]
        outs = rev[1:] + [out_channels]
        for i, (cin, cout) in enumerate(zip(rev, outs)):
            (hi, wi), (ho, wo) = sizes[-1 - i], sizes[-2 - i]
            # ConvTranspose2d(k=3, s=2, p=1) gives 2*size - 1 + output_padding: pick padding to hit (ho, wo)
            pad = (ho - (2 * hi - 1), wo - (2 * wi - 1))
            layers.append(nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=pad))
            if i < len(channels) - 1:
                layers.append(act())
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        feat = self.head(z.reshape(-1, z.shape[-1])).view(-1, *self.feature_shape)  # (N, C', h', w')
        out = self.deconv(feat)  # (N, out_channels, H, W)
        return out.reshape(*lead, -1)  # (..., out_channels * H * W)
