"""Models: latent-variable models built from parts (posterior, prior, likelihood), and their objectives.

Names are imported on first use, so that reading a ModelConfig (vaelab.models.config) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "LatentVariableModel": "vaelab.models.model", "VAE": "vaelab.models.build", "Autoencoder": "vaelab.models.build",
    "build_model": "vaelab.models.build", "ModelConfig": "vaelab.models.config",
    "check_likelihood": "vaelab.models.config", "default_likelihood": "vaelab.models.config",
    "LikelihoodHead": "vaelab.models.likelihoods", "ELBOOutput": "vaelab.models.outputs",
    "AEOutput": "vaelab.models.outputs", "DiagonalGaussian": "vaelab.models.posteriors",
    "PointMass": "vaelab.models.posteriors",
}
__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'vaelab.models' has no attribute {name!r}")
