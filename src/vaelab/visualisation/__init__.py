"""Visualisation: image grids, prior samples, reconstructions, interpolation, the latent manifold, latent maps,
training curves and the HTML report. Every ``save_*`` function takes a run (or run directory) and returns
the path(s) it wrote."""

from vaelab.visualisation.grid import image_grid, save_image_grid

__all__ = ["image_grid", "save_image_grid", "save_samples", "save_reconstructions", "save_interpolation",
           "save_manifold", "save_latents", "save_curves", "save_report"]

_LAZY = {
    "save_samples": "vaelab.visualisation.samples", "save_reconstructions": "vaelab.visualisation.reconstructions",
    "save_interpolation": "vaelab.visualisation.interpolation", "save_manifold": "vaelab.visualisation.manifold",
    "save_latents": "vaelab.visualisation.latents", "save_curves": "vaelab.visualisation.curves",
    "save_report": "vaelab.visualisation.report",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vaelab.visualisation' has no attribute {name!r}")
