"""Images given on the command line as INPUT specs, checked against what a model takes.

An INPUT is an image file (PNG/JPEG), a .npy/.npz array file, a folder of images, or a data set split
``NAME:SPLIT[:LABELS]`` (NAME a named data set or a data file/folder, SPLIT train|valid|test, LABELS a
class filter such as ``9``, ``0-8`` or ``1,7``). ``fit_inputs`` refuses images whose shape or values do not
fit a model, with one line saying what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from vaelab.data._io import one_line
from vaelab.data.dataset import Dataset
from vaelab.data.images import IMAGE_SUFFIXES, _read_image, load_array_file, load_image_folder
from vaelab.errors import DataError

SPLITS = ("train", "valid", "test")
SPEC_HELP = ("an image file (PNG/JPEG), a .npy/.npz file, a folder of images, or NAME:SPLIT[:LABELS] "
             "such as digits:test or mnist:test:9")


@dataclass
class Inputs:
    """Images (N, C, H, W) float32 in [0, 1] from one INPUT spec, with a name per image and labels if known."""

    spec: str
    x: torch.Tensor  # (N, C, H, W)
    names: list[str]  # one per image: file name, or SPEC[i]
    labels: torch.Tensor | None = None  # (N,) int64

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, idx: torch.Tensor) -> "Inputs":
        """The images at ``idx`` (a 1-D index tensor)."""
        return Inputs(self.spec, self.x[idx], [self.names[i] for i in idx.tolist()],
                      None if self.labels is None else self.labels[idx])


def parse_labels(text: str, spec: str) -> list[int]:
    """'9' -> [9]; '0-8' -> [0..8]; '1,7' -> [1, 7]."""
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-"))
                out += list(range(lo, hi + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise DataError(f"{spec}: bad class filter {text!r} (expected integers like 9, 0-8 or 1,7)") from None
    if not out:
        raise DataError(f"{spec}: empty class filter (expected integers like 9, 0-8 or 1,7)")
    return out


def _split_spec(spec: str) -> tuple[str, str, str | None] | None:
    """(NAME, SPLIT, LABELS or None) when ``spec`` looks like NAME:SPLIT[:LABELS], else None."""
    parts = spec.split(":")
    if len(parts) == 2 and parts[1] in SPLITS:
        return parts[0], parts[1], None
    if len(parts) == 3 and parts[1] in SPLITS:
        return parts[0], parts[1], parts[2]
    return None


def load_inputs(spec: str, *, data_dir: str | Path | None = None,
                datasets: Mapping[str, Callable[[], Dataset]] | None = None, table: Any = None) -> Inputs:
    """The images of one INPUT spec (see the module docstring).

    ``datasets`` maps data set names to loaders that take precedence over ``load_dataset(name, data_dir)``
    (a run passes its own data set, loaded with its binarization and split seed). ``table`` is the
    TableScaling of a run trained on a table: a .csv/.parquet INPUT is then rows of that table's columns,
    standardised with the run's scaling (vaelab.data.tables).
    """
    path = Path(spec).expanduser()
    if path.exists() and path.suffix.lower() in (".csv", ".parquet"):
        if table is None:
            raise DataError(f"{spec}: a table is an input of a run trained on a table (this run takes images: "
                            f"expected {SPEC_HELP})")
        from vaelab.data.tables import load_table_rows

        x, labels = load_table_rows(path, table)
        return Inputs(spec, x, [f"{path.name}[{i}]" for i in range(x.shape[0])], labels)
    if path.exists():
        if path.is_dir():
            x, labels, _ = load_image_folder(path)
            return Inputs(spec, x, [f"{spec}[{i}]" for i in range(x.shape[0])], labels)
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            arr, gray = _read_image(path, None)  # (H, W) or (H, W, 3) in [0, 1]
            x = torch.from_numpy(np.ascontiguousarray(arr[None, None] if gray else arr.transpose(2, 0, 1)[None]))
            return Inputs(spec, x.float(), [path.name])
        if suffix in (".npy", ".npz"):
            x, labels = load_array_file(path)
            return Inputs(spec, x, [f"{path.name}[{i}]" for i in range(x.shape[0])], labels)
        raise DataError(f"{spec}: unsupported file type {suffix or '(none)'!r} (expected {SPEC_HELP})")
    parsed = _split_spec(spec)
    if parsed is None:
        raise DataError(one_line(f"{spec}: not found (expected {SPEC_HELP})"))
    name, split, label_text = parsed
    own = _lookup(datasets or {}, name)
    if own is not None:
        data = own()
    else:
        from vaelab.data.registry import load_dataset

        data = load_dataset(name, data_dir=data_dir)
    x, labels = data.split(split), data.labels(split)
    names = [f"{name}:{split}[{i}]" for i in range(x.shape[0])]
    inputs = Inputs(spec, x, names, labels)
    if label_text is not None:
        if labels is None:
            raise DataError(f"{spec}: data set {name!r} has no labels (expected NAME:SPLIT without a class filter)")
        keep = torch.isin(labels, torch.tensor(parse_labels(label_text, spec)))
        if not bool(keep.any()):
            raise DataError(f"{spec}: no {split} images of class(es) {label_text} "
                            f"(labels present: {sorted(set(labels.tolist()))})")
        inputs = inputs.subset(torch.nonzero(keep).flatten())
    return inputs


def _lookup(datasets: Mapping[str, Callable[[], Dataset]], name: str) -> Callable[[], Dataset] | None:
    """The loader registered for ``name``, comparing file paths by their resolved location."""
    if name in datasets:
        return datasets[name]
    files = (".npy", ".npz", ".csv", ".parquet")
    if "/" in name or name.endswith(files):
        target = Path(name).expanduser().resolve()
        for key, loader in datasets.items():
            if ("/" in key or key.endswith(files)) and Path(key).expanduser().resolve() == target:
                return loader
    return None


def _shape_text(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    return f"{h}x{w} {'grayscale' if c == 1 else f'{c}-channel'}"


def fit_inputs(inputs: Inputs, image_shape: tuple[int, int, int], likelihood: str, *, resize: bool = False,
               binarize: str | None = None, table: bool = False) -> torch.Tensor:
    """``inputs.x`` checked (and, when asked, resized or binarized) to fit a model of ``image_shape``
    (C, H, W) and ``likelihood``; a DataError says what was expected otherwise. ``table``: the model was
    trained on a standardised table (rows (N, 1, 1, F), any real values)."""
    x = inputs.x
    c, h, w = image_shape
    what = inputs.spec
    if table:
        if x.dim() != 4 or tuple(x.shape[1:]) != tuple(image_shape):
            raise DataError(f"{what}: examples of shape {tuple(x.shape[1:])}, but the run was trained on a table of "
                            f"{w} columns (expected a .csv/.parquet table with the run's columns, or NAME:SPLIT)")
        if not bool(torch.isfinite(x).all()):
            raise DataError(f"{what}: NaN or infinite values (expected finite numbers)")
        return x.contiguous()
    if x.dim() != 4 or x.shape[0] == 0:
        raise DataError(f"{what}: no images of shape (N, C, H, W) (expected {_shape_text(image_shape)} images)")
    if x.shape[1] != c:
        raise DataError(f"{what}: {_shape_text(tuple(x.shape[1:]))} images, but the model takes "
                        f"{_shape_text(image_shape)} images (C x H x W = {c}x{h}x{w})")
    if tuple(x.shape[2:]) != (h, w):
        if not resize:
            raise DataError(f"{what}: images of {x.shape[2]}x{x.shape[3]} pixels, but the model takes {h}x{w} "
                            "(height x width): pass --resize to resize them")
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                                            antialias=True).clamp_(0.0, 1.0)
    if not bool(torch.isfinite(x).all()):
        raise DataError(f"{what}: NaN or infinite pixel values (expected values in [0, 1])")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        raise DataError(f"{what}: pixel values from {lo:g} to {hi:g} (expected values in [0, 1])")
    if binarize not in (None, "none", "threshold", "dynamic"):
        raise DataError(f"unknown binarize {binarize!r} (expected none, threshold or dynamic)")
    if binarize == "threshold":
        x = (x > 0.5).to(torch.float32)
    elif binarize == "dynamic":  # one Bernoulli draw, seeded as a dynamically binarized run's valid/test splits
        from vaelab.data.binarize import EVAL_BINARIZATION_SEED

        x = torch.bernoulli(x.to(torch.float32), generator=torch.Generator().manual_seed(EVAL_BINARIZATION_SEED))
    if likelihood == "bernoulli":
        gray = (x != 0) & (x != 1)
        if bool(gray.any()):
            raise DataError(f"{what}: grayscale pixel values (e.g. {float(x[gray][0]):.3g}), but the model has a "
                            "Bernoulli likelihood, which needs binary pixels 0 or 1: pass --binarize threshold")
    return x.contiguous()
