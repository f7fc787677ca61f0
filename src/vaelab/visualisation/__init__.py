"""Visualisation: image grids of samples and reconstructions."""

from vaelab.visualisation.grid import image_grid, save_image_grid

__all__ = ["image_grid", "save_image_grid"]
