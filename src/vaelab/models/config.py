"""Model configuration: a dataclass saved as JSON beside the weights, enough to rebuild the network."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vaelab.errors import ConfigError

ARCHITECTURES = ("mlp", "conv")
ACTIVATIONS = ("tanh", "relu")
LIKELIHOODS = ("bernoulli", "gaussian", "continuous-bernoulli")
GAUSSIAN_VARIANCES = ("pixel", "network")
MODEL_KINDS = ("vae", "ae")


@dataclass
class ModelConfig:
    """What network to build: image shape, architecture, latent size and the decoder's likelihood.

    ``gaussian_variance`` applies to the Gaussian likelihood: ``pixel`` learns one log-variance per
    pixel, ``network`` lets the decoder output it per example (the AEVB paper's Frey Face model).
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W)
    model: str = "vae"  # vae | ae (deterministic autoencoder baseline)
    arch: str = "mlp"
    latent_dim: int = 32
    hidden: tuple[int, ...] = (512, 512)
    activation: str = "relu"
    likelihood: str = "bernoulli"
    gaussian_variance: str = "pixel"
    min_log_variance: float = -7.0  # soft floor on a Gaussian decoder's log sigma^2 (keeps the density bounded)
    conv_channels: tuple[int, ...] = (32, 64)

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(v) for v in self.image_shape)  # type: ignore[assignment]
        self.hidden = tuple(int(v) for v in self.hidden)
        self.conv_channels = tuple(int(v) for v in self.conv_channels)
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError (one line) for any value vaelab cannot build."""
        _choice("model", self.model, MODEL_KINDS)
        _choice("arch", self.arch, ARCHITECTURES)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("likelihood", self.likelihood, LIKELIHOODS)
        _choice("gaussian_variance", self.gaussian_variance, GAUSSIAN_VARIANCES)
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ConfigError(f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}")
        if self.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if not self.hidden or min(self.hidden) < 1:
            raise ConfigError(f"hidden must list positive layer sizes (e.g. 512,512), got {self.hidden}")
        if self.arch == "conv" and (not self.conv_channels or min(self.conv_channels) < 1):
            raise ConfigError(f"conv_channels must list positive channel counts, got {self.conv_channels}")

    @property
    def data_dim(self) -> int:
        """Number of values in one example, C * H * W."""
        c, h, w = self.image_shape
        return c * h * w

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("image_shape", "hidden", "conv_channels"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config keys {sorted(unknown)}; expected some of {sorted(known)}")
        return cls(**d)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}: expected one of {', '.join(allowed)}")
