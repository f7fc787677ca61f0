"""Encoder and decoder networks: MLPs (plain or gated) and convolutional nets for any image size and channels.

Encoders map x (B, C, H, W) to a flat vector (B, out_dim); decoders map z (..., D) to a flat parameter
vector (..., out_dim). The likelihood head decides what those numbers mean. A conditional model's networks
take a second input c (a one-hot label), concatenated to the flattened image (encoder) or to z (decoder).
"""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class GatedDense(nn.Module):
    """h = (W x + b) * sigmoid(V x + c) (Dauphin et al. 2017), the layer of Tomczak & Welling's VampPrior models."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.h = nn.Linear(n_in, n_out)
        self.g = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(x) * torch.sigmoid(self.g(x))


def mlp(sizes: list[int], activation: str, gated: bool = False) -> nn.Sequential:
    """Layers from sizes[0] to sizes[-1]: Linear with ``activation`` between them, or GatedDense hidden layers
    (the gate is the nonlinearity); the last layer is always a plain Linear."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        if gated and not last:
            layers.append(GatedDense(a, b))
            continue
        layers.append(nn.Linear(a, b))
        if not last:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def he_initialise(module: nn.Module) -> None:
    """Kaiming-normal weights (fan-in, ReLU gain: std sqrt(2 / fan_in)) and zero biases for every linear and
    convolutional layer under ``module``, as He et al. (2015) and Tomczak & Welling's VampPrior code."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def _joined(a: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """[a, c] along the last dimension, c broadcast over a's leading dimensions (e.g. samples)."""
    if c is None:
        return a
    return torch.cat([a, c.expand(*a.shape[:-1], c.shape[-1]).to(a.dtype)], -1)


class MLPEncoder(nn.Module):
    """x (B, C, H, W) [, c (B, K)] -> flatten -> hidden layers -> (B, out_dim)."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: tuple[int, ...], out_dim: int, activation: str,
                 gated: bool = False, condition_dim: int = 0):
        super().__init__()
        c, h, w = image_shape
        self.net = mlp([c * h * w + condition_dim, *hidden, out_dim], activation, gated)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(_joined(x.flatten(1), c))  # (B, out_dim)

    def joint(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """forward(cat([x, u])) (B + K, out_dim) for data x and learned inputs u (a VampPrior's pseudo-inputs):
        the first layer runs on each apart, so that only u gets an input gradient (the data need none, and its
        rows of the widest matrix product are skipped in the backward pass); the other layers run as one batch."""
        first, rest = self.net[0], self.net[1:]
        return rest(torch.cat([first(x.flatten(1)), first(u.flatten(1).to(x.dtype))]))  # (B + K, out_dim)


class MLPDecoder(nn.Module):
    """z (..., D) [, c (..., K)] -> hidden layers (encoder's in reverse) -> (..., out_dim)."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], out_dim: int, activation: str, gated: bool = False,
                 condition_dim: int = 0):
        super().__init__()
        self.net = mlp([latent_dim + condition_dim, *reversed(hidden), out_dim], activation, gated)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(_joined(z, c))


def _conv_sizes(h: int, w: int, n: int) -> list[tuple[int, int]]:
    """Spatial sizes after each of ``n`` stride-2 convolutions (kernel 3, padding 1): ceil(size / 2)."""
    sizes = [(h, w)]
    for _ in range(n):
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


class ConvEncoder(nn.Module):
    """Stride-2 convolutions (3x3) then an MLP head (which also takes c); works for any (C, H, W)."""

    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, ...], hidden: tuple[int, ...],
                 out_dim: int, activation: str, gated: bool = False, condition_dim: int = 0):
        super().__init__()
        c, h, w = image_shape
        act = _ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        for cin, cout in zip((c, *channels[:-1]), channels):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), act()]
        self.conv = nn.Sequential(*layers)
        fh, fw = _conv_sizes(h, w, len(channels))[-1]
        self.head = mlp([channels[-1] * fh * fw + condition_dim, *hidden, out_dim], activation, gated)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(_joined(self.conv(x).flatten(1), c))  # (B, out_dim)

    def joint(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """forward(cat([x, u])) (B + K, out_dim): data x and learned inputs u in one pass."""
        return self(torch.cat([x, u.to(x.dtype)]))


class ConvDecoder(nn.Module):
    """MLP to a small feature map, then stride-2 transposed convolutions back to exactly (H, W)."""

    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, ...], hidden: tuple[int, ...],
                 latent_dim: int, out_channels: int, activation: str, gated: bool = False, condition_dim: int = 0):
        super().__init__()
        _, h, w = image_shape
        act = _ACTIVATIONS[activation]
        sizes = _conv_sizes(h, w, len(channels))  # [(H, W), ..., (h_min, w_min)]
        self.feature_shape = (channels[-1], *sizes[-1])
        n_feat = channels[-1] * sizes[-1][0] * sizes[-1][1]
        self.head = nn.Sequential(mlp([latent_dim + condition_dim, *reversed(hidden), n_feat], activation, gated),
                                  act())
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

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        z = _joined(z, c)
        lead = z.shape[:-1]
        feat = self.head(z.reshape(-1, z.shape[-1])).view(-1, *self.feature_shape)  # (N, C', h', w')
        out = self.deconv(feat)  # (N, out_channels, H, W)
        return out.reshape(*lead, -1)  # (..., out_channels * H * W)
