"""vaelab: variational auto-encoders as Kingma & Welling (2014) define them: train, measure, look, use.

Notebook use::

    import vaelab
    run = vaelab.train(vaelab.TrainConfig(dataset="digits", epochs=20, model=vaelab.ModelConfig(latent_dim=8)))
    run = vaelab.load("runs/digits-vae-...")
    run.model.sample(16)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public API, imported on first use so that `import vaelab` (and the CLI's --help) stays fast.
_API = {
    "train": "vaelab.training.loop", "load": "vaelab.runs.run", "Run": "vaelab.runs.run",
    "TrainConfig": "vaelab.runs.config", "ModelConfig": "vaelab.models.config", "VAE": "vaelab.models",
    "Autoencoder": "vaelab.models", "build_model": "vaelab.models", "LatentVariableModel": "vaelab.models",
    "load_dataset": "vaelab.data",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'vaelab' has no attribute {name!r}")
