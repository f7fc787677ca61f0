"""vaelab: variational auto-encoders as Kingma & Welling (2014) define them: train, measure, look, use.

Notebook use::

    import vaelab
    run = vaelab.train(vaelab.TrainConfig(dataset="digits", epochs=20, model=vaelab.ModelConfig(latent_dim=8)))
    run = vaelab.load("runs/digits-vae-...")
    run.model.sample(16)
"""

from __future__ import annotations

from vaelab.utils.lazy import lazy_exports

__version__ = "0.1.0"

# Public API, imported on first use so that `import vaelab` (and the CLI's --help) stays fast.
_API = {
    "train": "vaelab.training.loop", "load": "vaelab.runs.run", "Run": "vaelab.runs.run",
    "TrainConfig": "vaelab.runs.config", "ModelConfig": "vaelab.models.config", "VAE": "vaelab.models",
    "Autoencoder": "vaelab.models", "build_model": "vaelab.models", "LatentVariableModel": "vaelab.models",
    "load_dataset": "vaelab.data",
}
__all__ = ["__version__", *_API]

__getattr__ = lazy_exports(__name__, _API)
