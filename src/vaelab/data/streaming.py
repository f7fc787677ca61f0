"""Data sets larger than memory: a memory-mapped .npy (or a folder of image files) read batch by batch.

A ``StreamingSplit`` looks like the (N, C, H, W) float tensor of an in-memory split to the code that uses
it (``len``, ``shape``, indexing with a slice or an index tensor returns a float32 tensor in [0, 1]), but
keeps only a file mapping and an index array in memory. The training loop reads its batches through a
DataLoader with worker processes (``batches``). Which path a data set takes is chosen by size
(``should_stream``), so the in-memory fast path stays the default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from vaelab.data._io import data_error

STREAM_FRACTION = 0.5  # stream when the float32 data would take more than this share of available memory


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), or a large number where that cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def should_stream(float_bytes: int) -> bool:
    """True when data of ``float_bytes`` (as float32) should be streamed instead of loaded.

    ``$VAELAB_STREAM_BYTES`` overrides the threshold (bytes); otherwise half the available memory.
    """
    limit = os.environ.get("VAELAB_STREAM_BYTES")
    threshold = int(float(limit)) if limit else int(STREAM_FRACTION * available_memory())
    return float_bytes > threshold


class StreamingSplit:
    """One split of a streamed data set: rows ``indices`` of a source read by ``fetch(rows) -> uint8/float
    array (b, C, H, W)``; indexing returns float32 tensors in [0, 1]."""

    def __init__(self, fetch: Callable[[np.ndarray], np.ndarray], indices: np.ndarray,
                 item_shape: tuple[int, int, int]):
        self.fetch, self.indices, self.item_shape = fetch, np.asarray(indices, dtype=np.int64), item_shape

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.indices), *self.item_shape))

    def __len__(self) -> int:
        return len(self.indices)

    def dim(self) -> int:
        return 4

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def to(self, device) -> "StreamingSplit":
        """Stays on disk; batches are moved to the device when they are read."""
        return self

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, slice):
            rows = self.indices[key]
        else:
            rows = self.indices[torch.as_tensor(key).cpu().numpy()]
        return self.read(rows)

    def read(self, rows: np.ndarray) -> torch.Tensor:
        """Float32 (b, C, H, W) in [0, 1] for source rows ``rows`` (read in sorted order, returned in order)."""
        if len(rows) == 0:
            return torch.empty((0, *self.item_shape))
        order = np.argsort(rows, kind="stable")
        block = np.asarray(self.fetch(rows[order]))
        out = np.empty_like(block)
        out[order] = block
        x = torch.from_numpy(np.ascontiguousarray(out))
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


class _BatchDataset(torch.utils.data.Dataset):
    """Item i = the i-th batch of index rows; read in a DataLoader worker."""

    def __init__(self, split: StreamingSplit, batches: list[torch.Tensor]):
        self.split, self.batches = split, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.split[self.batches[i]]


def batches(split: StreamingSplit, index_batches: list[torch.Tensor], workers: int = 2) -> Iterator[torch.Tensor]:
    """The batches ``split[idx]`` for each idx in ``index_batches``, in order, read ahead by worker processes."""
    loader = torch.utils.data.DataLoader(_BatchDataset(split, index_batches), batch_size=None, shuffle=False,
                                         num_workers=workers, prefetch_factor=4 if workers else None,
                                         persistent_workers=False,
                                         # its own generator: the global RNG (z noise) must not be touched
                                         generator=torch.Generator().manual_seed(0))
    yield from loader


def open_npy(path: Path) -> np.memmap:
    """Memory-map a .npy file read-only (a .npz cannot be mapped: it is a zip archive)."""
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise data_error(path, f"cannot memory-map ({exc})", "an uncompressed .npy array") from None


def check_streamed_values(path: Path, arr: np.ndarray, chunk: int = 4096) -> str:
    """Validate a mapped array chunk by chunk (finite, in [0, 1] unless uint8); returns its value kind."""
    binary = True
    expected = "uint8 values 0..255, or float/bool values in [0, 1] without NaN or inf"
    for start in range(0, arr.shape[0], chunk):
        block = np.asarray(arr[start:start + chunk])
        if block.dtype == np.uint8:
            binary = binary and bool(np.isin(block, (0, 255)).all())
            continue
        if np.issubdtype(block.dtype, np.floating) and not np.isfinite(block).all():
            raise data_error(path, f"non-finite values in rows {start}..{start + len(block) - 1}", expected)
        lo, hi = block.min(), block.max()
        if lo < 0 or hi > 1:
            raise data_error(path, f"values out of range: min {lo:g}, max {hi:g}", expected)
        binary = binary and bool(((block == 0) | (block == 1)).all())
    return "binary" if binary else "continuous"


def streamed_npy(path: Path) -> tuple[Callable[[np.ndarray], np.ndarray], int, tuple[int, int, int], str] | None:
    """(fetch, N, (C, H, W), kind) for a .npy too large to load, or None when it fits in memory."""
    from vaelab.data.images import _to_nchw

    if path.suffix.lower() != ".npy" or not path.is_file():
        return None
    arr = open_npy(path)
    if arr.ndim < 2 or 0 in arr.shape:
        return None  # the in-memory loader gives the shape error
    if not should_stream(int(np.prod(arr.shape)) * 4):
        return None
    item_shape = tuple(_to_nchw(path, arr[:1]).shape[1:])
    kind = check_streamed_values(path, arr)

    def fetch(rows: np.ndarray) -> np.ndarray:
        return _to_nchw(path, np.asarray(arr[rows]))

    return fetch, arr.shape[0], item_shape, kind  # type: ignore[return-value]


def streamed_folder(folder: Path, size: tuple[int, int] | None):
    """(fetch, N, (C, H, W), labels, class_names) for an image folder too large to load, or None."""
    from vaelab.data.images import _read_image, image_folder_files

    if not folder.is_dir():
        return None
    files, labels, class_names = image_folder_files(folder)
    first, gray = _read_image(files[0], size)
    c = 1 if gray else 3
    h, w = first.shape[:2]
    if not should_stream(len(files) * c * h * w * 4):
        return None

    def fetch(rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), c, h, w), dtype=np.float32)
        for j, r in enumerate(rows):
            arr, is_gray = _read_image(files[r], size)
            if arr.shape[:2] != (h, w):
                raise data_error(files[r], f"image of size {arr.shape[0]}x{arr.shape[1]}",
                                 f"{h}x{w} like {files[0].name}, or pass an image size to resize all images")
            if c == 1 and not is_gray:
                raise data_error(files[r], "a colour image in a folder whose first image is grayscale",
                                 "images of one kind (all grayscale or all RGB) in a streamed folder")
            out[j] = arr[None] if is_gray and c == 1 else (np.repeat(arr[None], 3, 0) if is_gray else
                                                           arr.transpose(2, 0, 1))
        return out

    return fetch, len(files), (c, h, w), labels, class_names
