"""Load the user's own images: .npy/.npz arrays, or a folder of PNG/JPEG files (optionally one subfolder per class).

Everything comes back as float32 (N, C, H, W) in [0, 1], with int64 labels when there are any.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from vaelab.data._io import data_error, one_line
from vaelab.errors import DataError

IMAGE_KEYS = ("x", "images", "data", "arr_0")
LABEL_KEYS = ("y", "labels")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SHAPES = "shape (N,H,W), (N,H,W,C) with C in 1/3/4, (N,C,H,W) with C in 1/3, or (N,D)"
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


# ----------------------------------------------------------------------------------------- arrays
def _load_npy_or_npz(path: Path, keys: tuple[str, ...], what: str, required: bool) -> np.ndarray | None:
    """The array of a .npy file, or the first of ``keys`` in a .npz file (None when absent and not required)."""
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise data_error(path, f"unsupported file type {suffix or '(none)'!r}", f"a .npy or .npz file of {what}")
    if not path.is_file():
        raise data_error(path, "file not found", f"a .npy or .npz file of {what}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise data_error(path, f"cannot read array file ({one_line(exc)})", f"a valid {suffix} file of {what}") from exc
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        for key in keys:
            if key in loaded.files:
                try:
                    return loaded[key]
                except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                    raise data_error(path, f"cannot read array {key!r} ({one_line(exc)})", f"{what}") from exc
        if required:
            raise data_error(
                path, f"no array named {' or '.join(keys)} (found {', '.join(loaded.files) or 'none'})",
                f"{what} under key {' or '.join(repr(k) for k in keys)}",
            )
    return None


def _to_nchw(path: Path, arr: np.ndarray) -> np.ndarray:
    """Reshape an accepted image array layout to (N, C, H, W); 4-channel images lose their alpha channel."""
    shape = arr.shape
    if arr.ndim == 2:
        return arr.reshape(shape[0], 1, 1, shape[1])
    if arr.ndim == 3:
        return arr[:, None, :, :]
    if arr.ndim == 4:
        if shape[3] in (1, 3, 4) and shape[1] not in (1, 3):
            return np.transpose(arr[..., :3] if shape[3] == 4 else arr, (0, 3, 1, 2))
        if shape[1] in (1, 3):
            return arr
    raise data_error(path, f"array of shape {shape}", ARRAY_SHAPES)


def _to_unit_float(path: Path, arr: np.ndarray) -> np.ndarray:
    """float32 values in [0, 1]: uint8 is divided by 255; bool, other integers and floats must lie in [0, 1]."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise data_error(path, f"array of dtype {arr.dtype}", "uint8, bool, integer or float pixel values")
    expected = "uint8 values 0..255, or float/bool values in [0, 1] without NaN or inf"
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        n_nan, n_inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
        finite = arr[np.isfinite(arr)]
        rng = f"finite min {finite.min():g}, max {finite.max():g}" if finite.size else "no finite values"
        raise data_error(path, f"{n_nan} NaN and {n_inf} infinite value(s); {rng}", expected)
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi > 1:
        raise data_error(path, f"values out of range: min {lo:g}, max {hi:g}", expected)
    return arr.astype(np.float32)


def _check_labels(path: Path, labels: np.ndarray, n: int) -> torch.Tensor:
    """Labels as an int64 tensor: 1-D (or (N,1)), length ``n``, non-negative integer values."""
    expected = f"{n} non-negative integer labels, one per image"
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise data_error(path, f"labels of shape {labels.shape}", expected)
    if labels.shape[0] != n:
        raise data_error(path, f"{labels.shape[0]} labels", expected)
    if labels.dtype == np.bool_ or not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise data_error(path, f"labels of dtype {labels.dtype}", expected)
    if np.issubdtype(labels.dtype, np.floating) and not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise data_error(path, "labels that are not whole numbers", expected)
    if n and labels.min() < 0:
        raise data_error(path, f"negative label {labels.min():g}", expected)
    return torch.from_numpy(labels.astype(np.int64))


def load_labels_file(path: str | Path, n: int) -> torch.Tensor:
    """Labels of ``n`` examples from a .npy/.npz (keys y/labels/arr_0) or a text file with one integer per line."""
    path = Path(path)
    if path.suffix.lower() in (".txt", ".csv"):
        if not path.is_file():
            raise data_error(path, "file not found", f"a labels file of {n} integers")
        try:
            labels = np.loadtxt(path, dtype=np.float64, ndmin=1, delimiter="," if path.suffix.lower() == ".csv" else None)
        except ValueError as exc:
            raise data_error(path, f"cannot parse labels ({one_line(exc)})", f"{n} integers, one per line") from exc
    else:
        labels = _load_npy_or_npz(path, LABEL_KEYS + ("arr_0",), "integer labels", required=True)
    return _check_labels(path, labels, n)


def load_array_file(
    path: str | Path, labels_path: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images (float32 (N, C, H, W) in [0, 1]) and labels (int64 (N,) or None) from a .npy or .npz file.

    A .npz holds the images under 'x', 'images', 'data' or 'arr_0' and may hold labels under 'y' or
    'labels'; ``labels_path`` (.npy/.npz/.txt/.csv) overrides them.
    """
    path = Path(path)
    arr = _load_npy_or_npz(path, IMAGE_KEYS, "images", required=True)
    assert arr is not None
    if arr.ndim < 2 or arr.shape[0] == 0 or 0 in arr.shape:
        raise data_error(path, f"array of shape {arr.shape}", f"a non-empty array of {ARRAY_SHAPES}")
    x = _to_nchw(path, arr)
    x = torch.from_numpy(np.ascontiguousarray(_to_unit_float(path, x)))
    n = x.shape[0]
    if labels_path is not None:
        return x, load_labels_file(labels_path, n)
    labels = _load_npy_or_npz(path, LABEL_KEYS, "labels", required=False) if path.suffix.lower() == ".npz" else None
    return x, (None if labels is None else _check_labels(path, labels, n))


# ----------------------------------------------------------------------------------------- folders
def _image_files(folder: Path) -> list[Path]:
    """PNG/JPEG files directly in ``folder``, sorted by name (hidden files skipped)."""
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _read_image(path: Path, size: tuple[int, int] | None) -> tuple[np.ndarray, bool]:
    """(H, W, 3) or (H, W) float32 array in [0, 1] of one image file, resized to ``size`` (H, W); and is-gray."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("1", "L", "LA", "P", "PA"):
                img = img.convert("L") if mode in ("1", "L", "LA") else img.convert("RGB")
                scale = 255.0
            elif mode in _GRAY_MODES:  # 16/32-bit integer or float grayscale
                arr = np.asarray(img, dtype=np.float32)
                scale = 65535.0 if mode.startswith("I") else 1.0
                img = Image.fromarray(np.clip(arr / scale, 0.0, 1.0).astype(np.float32), mode="F")
                scale = 1.0
            else:
                img = img.convert("RGB")
                scale = 255.0
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.float32) / np.float32(scale)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise data_error(path, f"cannot read image ({one_line(exc)})", "a readable PNG or JPEG image") from exc
    if arr.ndim == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
        arr = arr[..., 0]  # an RGB (or palette) file whose pixels are all gray
    return np.clip(arr, 0.0, 1.0), arr.ndim == 2


def image_folder_files(folder: str | Path) -> tuple[list[Path], torch.Tensor | None, list[str] | None]:
    """The image files of a folder (directly in it, or one subfolder per class), with labels and class names."""
    folder = Path(folder)
    expected = "a folder of PNG/JPEG images, or of one subfolder of such images per class"
    top = _image_files(folder)
    classes = [(d.name, _image_files(d)) for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    classes = [(name, files) for name, files in classes if files]
    if top and classes:
        raise data_error(folder, "images both directly in the folder and in subfolders", expected + ", not both")
    if not top and not classes:
        raise data_error(folder, "no PNG or JPEG images found", expected)
    if top:
        files, labels, class_names = top, None, None
    else:
        class_names = [name for name, _ in classes]
        files = [f for _, fs in classes for f in fs]
        labels = torch.tensor([i for i, (_, fs) in enumerate(classes) for _ in fs], dtype=torch.int64)
    return files, labels, class_names


def load_image_folder(
    folder: str | Path, size: tuple[int, int] | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
    """Images, labels and class names from a folder of PNG/JPEG files.

    Either the images lie directly in ``folder`` (no labels), or in one subfolder per class (labels
    index the class names in sorted order). Images are grayscale (C=1) if every one is, else RGB (C=3).
    All must share one size unless ``size`` = (H, W) is given, to which each is resized.
    """
    folder = Path(folder)
    expected = "a folder of PNG/JPEG images, or of one subfolder of such images per class"
    if not folder.is_dir():
        raise data_error(folder, "folder not found", expected)
    if size is not None and (len(size) != 2 or min(int(s) for s in size) < 1):
        raise DataError(one_line(f"{folder}: bad image size {size!r} (expected (height, width) of positive integers)"))
    files, labels, class_names = image_folder_files(folder)
    arrays, grays = [], []
    first_shape = None
    for f in files:
        arr, gray = _read_image(f, size)
        if first_shape is None:
            first_shape, first_file = arr.shape[:2], f
        elif arr.shape[:2] != first_shape:
            raise data_error(
                f, f"image of size {arr.shape[0]}x{arr.shape[1]} (height x width)",
                f"{first_shape[0]}x{first_shape[1]} like {first_file.name}, or pass an image size to resize all images",
            )
        arrays.append(arr)
        grays.append(gray)
    all_gray = all(grays)
    if all_gray:
        x = np.stack(arrays)[:, None]
    else:
        x = np.stack([np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), labels, class_names
