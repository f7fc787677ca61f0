"""Read IDX files (the MNIST / Fashion-MNIST format), gzipped or raw, checking magic, dims and payload length."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaelab.data._io import data_error, read_bytes

# IDX type codes (third magic byte) -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_EXPECTED = "an IDX file with magic 0x00000803 (images) or 0x00000801 (labels)"


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """The array stored in IDX file ``path`` (``.gz`` or raw); e.g. (N, 28, 28) uint8 images, (N,) uint8 labels.

    ``ndim`` (3 for images, 1 for labels) additionally requires that many dimensions. A truncated
    gzip stream, bad magic number or a payload of the wrong length raises a one-line DataError.
    """
    path = Path(path)
    expected = _EXPECTED if ndim is None else f"an IDX file with magic 0x000008{ndim:02X}"
    data = read_bytes(path, expected)
    if len(data) < 4:
        raise data_error(path, f"only {len(data)} bytes, too short for an IDX header", expected)
    magic = int.from_bytes(data[:4], "big")
    type_code, nd = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or type_code not in _IDX_TYPES or nd == 0:
        raise data_error(path, f"bad IDX magic number 0x{magic:08X}", expected)
    if ndim is not None and nd != ndim:
        raise data_error(path, f"IDX magic 0x{magic:08X} says {nd} dimension(s)", expected)
    header = 4 + 4 * nd
    if len(data) < header:
        raise data_error(path, f"header cut short: {len(data)} bytes", f"a {header}-byte IDX header for {nd} dims")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd))
    dtype = np.dtype(_IDX_TYPES[type_code])
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(data) - header
    if have != need:
        problem = "payload too short" if have < need else "payload too long"
        raise data_error(path, f"{problem}: {have} bytes", f"{need} bytes for shape {dims} of {dtype.name}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)
