"""Models: latent-variable models built from parts (posterior, prior, likelihood), and their objectives.

Names are imported on first use, so that reading a ModelConfig (vaelab.models.config) does not import torch.
"""

from __future__ import annotations

from vaelab.utils.lazy import lazy_exports

_API = {
    "LatentVariableModel": "vaelab.models.model", "VAE": "vaelab.models.build", "Autoencoder": "vaelab.models.build",
    "build_model": "vaelab.models.build", "ModelConfig": "vaelab.models.config",
    "check_likelihood": "vaelab.models.config", "default_likelihood": "vaelab.models.config",
    "LikelihoodHead": "vaelab.models.likelihoods", "ELBOOutput": "vaelab.models.outputs",
    "AEOutput": "vaelab.models.outputs", "DiagonalGaussian": "vaelab.models.posteriors",
    "PointMass": "vaelab.models.posteriors",
}
__all__ = list(_API)

__getattr__ = lazy_exports(__name__, _API)
