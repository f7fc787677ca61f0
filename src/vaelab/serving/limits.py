"""Request limits of the model server, and the check that the optional ``serve`` extra is installed.

Every limit is enforced before any model work: a body over ``max_body_bytes`` is refused by a middleware
before it is read in full, batches and importance samples are bounded by the request schemas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vaelab.errors import ConfigError, VaelabError

INSTALL_HINT = ("vaelab serve needs the optional web-server packages: install vaelab[serve] "
                "(pip install 'vaelab[serve]')")


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; the defaults keep a request well under a second on a laptop CPU."""

    max_batch: int = 256  # latent vectors, images or samples in one request
    max_body_bytes: int = 4 * 1024 * 1024  # request body size; larger bodies get 413 unread
    max_upload_pixels: int = 4_194_304  # width x height of an uploaded image, checked from its header (2048^2)
    max_abs_latent: float = 100.0  # |z_d| bound (the prior is N(0, I): 100 sigma is far outside it)
    default_k: int = 1000  # importance samples of a score when the request names none
    max_k: int = 5000  # importance samples per image
    max_score_samples: int = 100_000  # images x k of one score request (decoder passes; ~1 s for an MNIST MLP)
    max_regret_images: int = 16  # images of one likelihood-regret request (each fine-tunes its own encoder)
    map_points: int = 5000  # test examples on the latent map (seeded random subset)
    body_timeout_s: float = 30.0  # a request body not received within this time gets 408

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_body_bytes", "max_upload_pixels", "default_k", "max_k",
                     "max_score_samples", "max_regret_images", "map_points"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"server limit {name} must be >= 1, got {getattr(self, name)}")
        if not self.max_abs_latent > 0 or not self.body_timeout_s > 0:
            raise ConfigError("server limits max_abs_latent and body_timeout_s must be > 0")
        if self.default_k > self.max_k:
            raise ConfigError(f"default_k ({self.default_k}) is over max_k ({self.max_k})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_fastapi() -> None:
    """Raise a one-line VaelabError naming the extra to install when fastapi or uvicorn is missing."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise VaelabError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")
