"""Image grids as PNG, drawn with Pillow: any channel count (1 or 3) and any image size."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vaelab.utils.atomic import write_bytes_atomic


def image_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, min_cell: int = 48) -> np.ndarray:
    """Tile images (N, C, H, W) in [0, 1] into one uint8 array (rows*H', cols*W'[, 3]).

    Images smaller than ``min_cell`` pixels are enlarged by an integer factor (nearest neighbour), so
    8x8 digits stay visible. ``nrow`` is the number of images per row (default: about square).
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    scale = max(1, math.ceil(min_cell / max(h, w)))
    arr = (images.detach().float().clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)  # (N, C, H, W)
    arr = arr.repeat(scale, axis=2).repeat(scale, axis=3)
    h, w = h * scale, w * scale
    cols = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), 255, dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, cols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, top:top + h, left:left + w] = arr[k]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Write ``image_grid(images, nrow)`` as a PNG file (atomically); returns the path."""
    buf = io.BytesIO()
    Image.fromarray(image_grid(images, nrow)).save(buf, format="PNG")
    write_bytes_atomic(path, buf.getvalue())
    return Path(path)
