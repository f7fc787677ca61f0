"""The complexity of an image: its length, in nats, when a general-purpose lossless compressor stores it.

Serrà et al. (2020), *Input complexity and out-of-distribution detection with likelihood-based generative
models*, correct a model's -log p(x) by this length L(x): a simple image (blank, constant) compresses to almost
nothing, so a high likelihood that comes from simplicity alone is cancelled. L(x) is measured on the input
*as the model sees it*: binary pixels (a Bernoulli model) are stored as a 1-bit image, grayscale pixels
quantised to 8 bits (0..255). The length counts every byte the compressor writes (headers too: a constant
per compressor, which shifts every score alike and changes no ranking).

Compression runs per image (each image is its own file); it costs tens of microseconds per 28x28 image.
"""

from __future__ import annotations

import bz2
import io
import lzma
import math
import zlib
from typing import Callable

import numpy as np
import torch

from vaelab.errors import ConfigError, DataError

LN2 = math.log(2.0)
# Through Pillow: TIFF with the codec the standard has for each kind of image (CCITT Group 4, the fax code, for
# binary images; LZW for grayscale), PNG (zlib with per-row prediction filters), lossless WebP and lossless JPEG
# 2000. zlib, bz2 and lzma (xz) on the raw pixel bytes (binary images packed 8 pixels per byte).
COMPRESSORS = ("tiff", "png", "webp", "jpeg2000", "zlib", "bz2", "lzma")


def quantise(x: torch.Tensor, binary: bool) -> np.ndarray:
    """Images x (N, C, H, W) in [0, 1] as the model sees them, as uint8 (N, C, H, W): 0/1 for binary pixels
    (``binary``; values must already be 0 or 1), else 8-bit levels round(255 x)."""
    if x.dim() != 4:
        raise DataError(f"expected images of shape (N, C, H, W), got shape {tuple(x.shape)}")
    a = x.detach().cpu().to(torch.float64).numpy()
    if binary:
        if not np.isin(a, (0.0, 1.0)).all():
            raise DataError("binary images must hold pixels 0 or 1 only (threshold grayscale images first)")
        return a.astype(np.uint8)
    if a.size and (a.min() < 0 or a.max() > 1):
        raise DataError(f"pixel values from {a.min():g} to {a.max():g} (expected values in [0, 1])")
    return np.rint(a * 255.0).astype(np.uint8)


def _pil_image(img: np.ndarray, binary: bool):
    """A Pillow image of one quantised image (C, H, W): mode '1' for binary, 'L' for gray, 'RGB' for colour."""
    from PIL import Image

    c = img.shape[0]
    if c == 1:
        return Image.fromarray((img[0] * 255).astype(np.uint8)).convert("1") if binary else Image.fromarray(img[0])
    if c == 3:
        return Image.fromarray(np.ascontiguousarray((img * (255 if binary else 1)).transpose(1, 2, 0)), "RGB")
    raise ConfigError(f"image compressors take 1 or 3 channels, not {c}: use zlib, bz2 or lzma")


def _pillow(fmt: str, **options) -> Callable[[np.ndarray, bool], bytes]:
    def compress(img: np.ndarray, binary: bool) -> bytes:
        im = _pil_image(img, binary)
        if fmt not in ("PNG", "TIFF") and im.mode == "1":  # WebP and JPEG 2000 have no 1-bit mode: 0/255 gray
            im = im.convert("L")
        buf = io.BytesIO()
        im.save(buf, format=fmt, **options)
        return buf.getvalue()

    return compress


def _tiff(img: np.ndarray, binary: bool) -> bytes:
    """TIFF: CCITT Group 4 for a 1-bit image, LZW for gray or colour."""
    im = _pil_image(img, binary)
    buf = io.BytesIO()
    im.save(buf, format="TIFF", compression="group4" if im.mode == "1" else "tiff_lzw")
    return buf.getvalue()


def _raw(codec: Callable[[bytes], bytes]) -> Callable[[np.ndarray, bool], bytes]:
    def compress(img: np.ndarray, binary: bool) -> bytes:
        data = np.packbits(img.reshape(-1)).tobytes() if binary else img.tobytes()
        return codec(data)

    return compress


_CODECS: dict[str, Callable[[np.ndarray, bool], bytes]] = {
    "tiff": _tiff,
    "png": _pillow("PNG", compress_level=9),
    "webp": _pillow("WEBP", lossless=True, quality=100, method=4),
    "jpeg2000": _pillow("JPEG2000", irreversible=False),  # the reversible (lossless) 5/3 wavelet
    "zlib": _raw(lambda b: zlib.compress(b, 9)),
    "bz2": _raw(lambda b: bz2.compress(b, 9)),
    # preset 9's modelling with a 64 KiB dictionary: the same output for inputs this small, without allocating
    # preset 9's 64 MiB dictionary for every image (250 ms)
    "lzma": _raw(lambda b: lzma.compress(b, filters=[{"id": lzma.FILTER_LZMA2, "preset": 9, "dict_size": 1 << 16}])),
}


def level_offset(image_shape: tuple[int, ...], binary: bool) -> float:
    """D ln 256 for 8-bit levels (0 for binary pixels): -log P(x) of a level minus this is the -log density on
    [0, 1]^D with each level a bin of width 1/256, in the units of a Gaussian VAE's -log p(x)."""
    return 0.0 if binary else math.prod(image_shape) * math.log(256.0)


def check_compressor(name: str) -> str:
    """``name`` if it is a known compressor, else a one-line ConfigError listing them."""
    if name not in _CODECS:
        raise ConfigError(f"unknown compressor {name!r}: expected one of {', '.join(COMPRESSORS)}")
    return name


def compressed_bytes(image: np.ndarray, binary: bool, compressor: str) -> bytes:
    """The compressed file of one quantised image (C, H, W) uint8 (see ``quantise``)."""
    return _CODECS[check_compressor(compressor)](image, binary)


def compressed_length(x: torch.Tensor, binary: bool, compressor: str) -> np.ndarray:
    """L(x) in nats for each image of x (N, C, H, W) in [0, 1]: 8 ln 2 times the compressed file's bytes
    (N,) float64. ``binary``: the pixels are 0/1 (a Bernoulli model's input), compressed as a 1-bit image."""
    codec = _CODECS[check_compressor(compressor)]
    q = quantise(x, binary)  # (N, C, H, W) uint8
    return np.array([8 * LN2 * len(codec(img, binary)) for img in q], dtype=np.float64)
