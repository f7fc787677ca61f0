"""Images in and out of the API: base64 PNG encoding of decoder outputs, and checked decoding of uploads.

An uploaded image is a base64 string (optionally a ``data:image/...;base64,`` URL) of a PNG, JPEG, GIF,
BMP or WebP file, or nested lists of pixel values in [0, 1]. ``to_model_input`` turns a batch of them into
a float32 tensor (N, C, H, W) for a model, or raises ImageError with one line saying what was expected.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from vaelab.errors import VaelabError

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
_DATA_URL = re.compile(r"^data:[\w.+/-]*(;[\w=.+-]+)*;base64,", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class ImageError(VaelabError):
    """An uploaded image that is not an image, or does not fit the model (HTTP 422)."""


def shape_text(shape: Sequence[int]) -> str:
    """(C, H, W) -> '28x20 grayscale' / '32x32 RGB' (height x width)."""
    c, h, w = shape
    kind = {1: "grayscale", 3: "RGB", 4: "RGBA"}.get(c, f"{c}-channel")
    return f"{h}x{w} {kind}"


# ----------------------------------------------------------------------------------------- output
def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) with values in [0, 1] (NaN -> 0) as uint8 (N, H, W, C)."""
    x = torch.nan_to_num(images.detach().float().cpu(), nan=0.0).clamp_(0.0, 1.0)
    return (x.mul_(255.0).add_(0.5)).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def png_bytes(pixels: np.ndarray) -> bytes:
    """One uint8 image (H, W, C) as PNG: C = 1, 2, 3, 4 as L, LA, RGB, RGBA; other C side by side in gray."""
    h, w, c = pixels.shape
    if c in _MODES:
        img = Image.fromarray(np.ascontiguousarray(pixels[:, :, 0] if c == 1 else pixels))
    else:
        img = Image.fromarray(np.ascontiguousarray(pixels.transpose(0, 2, 1).reshape(h, c * w)))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def to_base64_png(images: torch.Tensor) -> list[str]:
    """Images (N, C, H, W) in [0, 1] as a list of base64 PNG strings (no data: prefix)."""
    return [base64.b64encode(png_bytes(p)).decode("ascii") for p in to_uint8(images)]


def to_arrays(images: torch.Tensor) -> list[Any]:
    """Images (N, C, H, W) as nested lists of floats in [0, 1], shape (N, C, H, W)."""
    return torch.nan_to_num(images.detach().float().cpu(), nan=0.0).clamp(0.0, 1.0).tolist()


# ------------------------------------------------------------------------------------------ input
def decode_base64(text: str, where: str) -> bytes:
    """The bytes of a base64 string or base64 data URL (whitespace ignored)."""
    body = _DATA_URL.sub("", text.strip(), count=1)
    body = _SPACE.sub("", body)
    if not body:
        raise ImageError(f"{where}: empty string (expected a base64 PNG or JPEG file)")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(f"{where}: not valid base64 (expected the base64 text of a PNG or JPEG file, "
                         "optionally as a data:image/png;base64,... URL)") from None


def open_image(raw: bytes, where: str, max_pixels: int) -> Image.Image:
    """A decoded PIL image, its size checked against ``max_pixels`` from the header before decoding."""
    try:
        img = Image.open(io.BytesIO(raw), formats=FORMATS)
    except Exception:  # PIL raises many types for garbage: UnidentifiedImageError, SyntaxError, ValueError...
        raise ImageError(f"{where}: not an image (expected a {', '.join(FORMATS[:-1])} or WebP file)") from None
    w, h = img.size
    if w < 1 or h < 1 or w * h > max_pixels:
        raise ImageError(f"{where}: {img.format} image of {h}x{w} pixels (height x width) is over the upload "
                         f"limit of {max_pixels} pixels")
    try:
        img.load()
    except Exception as exc:  # truncated or corrupt data after a valid header
        raise ImageError(f"{where}: corrupt {img.format} data ({type(exc).__name__}); expected a complete image "
                         "file") from None
    return img


def pil_to_array(img: Image.Image, channels: int, where: str) -> np.ndarray:
    """A PIL image as float32 (C, H, W) in [0, 1] with the model's channel count (colour <-> gray converted)."""
    if channels not in _MODES:
        raise ImageError(f"{where}: the model takes {channels}-channel images, which PNG/JPEG cannot carry "
                         "(send nested lists of pixel values instead)")
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N") and channels == 1:
        arr = np.asarray(img, dtype=np.float32) / 65535.0  # 16-bit grayscale
    elif img.mode == "F" and channels == 1:
        arr = np.asarray(img, dtype=np.float32)
    else:
        if img.mode == "P" and channels in (1, 3):
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        arr = np.asarray(img.convert(_MODES[channels]), dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise ImageError(f"{where}: pixel values outside [0, 1] (expected an 8- or 16-bit image)")
    return np.ascontiguousarray(arr)


def list_to_array(item: list, shape: tuple[int, int, int], where: str) -> np.ndarray:
    """Nested lists (C, H, W), or (H, W) for a grayscale model, of numbers in [0, 1] as float32 (C, H, W)."""
    try:
        arr = np.asarray(item, dtype=np.float32)
    except (ValueError, TypeError):
        raise ImageError(f"{where}: not a rectangular array of numbers (expected nested lists of shape "
                         f"{tuple(shape)})") from None
    if arr.ndim == 2 and shape[0] == 1:
        arr = arr[None]
    if tuple(arr.shape) != tuple(shape):
        raise ImageError(f"{where}: pixel array of shape {tuple(arr.shape)}, but the model takes {tuple(shape)} "
                         f"(C, H, W) = {shape_text(shape)}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise ImageError(f"{where}: pixel values must be finite numbers in [0, 1]")
    return arr


def resize_to(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """(C, H', W') -> (C, h, w), bilinear with antialiasing (as ``vaelab score --resize``), clamped to [0, 1]."""
    x = torch.from_numpy(arr)[None]
    y = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return y[0].clamp_(0.0, 1.0).numpy()


def to_model_input(items: Sequence[str | list], shape: tuple[int, int, int], *, max_pixels: int,
                   resize: bool = False, binarize: bool = False, need_binary: bool = False) -> torch.Tensor:
    """Uploaded images -> float32 tensor (N, C, H, W) in [0, 1] for a model taking ``shape`` (C, H, W).

    Base64 files are converted to the model's channels and, with ``resize``, resized to (H, W); ``binarize``
    thresholds at 0.5; ``need_binary`` (a Bernoulli likelihood's score) refuses gray values left after that."""
    c, h, w = shape
    out = []
    for i, item in enumerate(items):
        where = f"images[{i}]"
        if isinstance(item, str):
            arr = pil_to_array(open_image(decode_base64(item, where), where, max_pixels), c, where)
            if arr.shape[1:] != (h, w):
                if not resize:
                    raise ImageError(f"{where}: image of {arr.shape[1]}x{arr.shape[2]} pixels, but the model takes "
                                     f"{h}x{w} (height x width): send {h}x{w} images or set \"resize\": true")
                arr = resize_to(arr, h, w)
        else:
            arr = list_to_array(item, shape, where)
        if binarize:
            arr = (arr > 0.5).astype(np.float32)
        elif need_binary:
            gray = (arr != 0) & (arr != 1)
            if gray.any():
                raise ImageError(f"{where}: gray pixel values (e.g. {float(arr[gray][0]):.3g}), but the model's "
                                 "Bernoulli likelihood needs pixels 0 or 1: set \"binarize\": true to threshold at 0.5")
        out.append(arr)
    return torch.from_numpy(np.stack(out))
