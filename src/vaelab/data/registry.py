"""Named data sets and the user's own files behind one call, ``load_dataset(name, ...)`` -> Dataset.

Named sets live in <data root>/<folder>/ in their published format (fetched when missing); any other
name that is a path to a .npy/.npz file or an image folder loads the user's data with a seeded split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import torch

from vaelab.data import download as dl
from vaelab.data._io import data_error, one_line
from vaelab.data.amat import read_amat
from vaelab.data.binarize import binarize_splits, check_binarize
from vaelab.data.dataset import Dataset
from vaelab.data.idx import read_idx
from vaelab.data.images import load_array_file, load_image_folder, load_labels_file
from vaelab.data.paths import resolve_data_root
from vaelab.data.splits import fraction_split_sizes, seeded_split
from vaelab.data.streaming import StreamingSplit, streamed_folder, streamed_npy
from vaelab.errors import ConfigError, DataError

DATASETS: dict[str, str] = {
    "mnist": "MNIST digits, 28x28 grayscale, 50k train / 10k valid / 10k test, labels (downloads ~11 MB)",
    "fashion-mnist": "Fashion-MNIST clothes, 28x28 grayscale, 50k/10k/10k, 10 labelled classes (downloads ~30 MB)",
    "binarized-mnist": "statically binarized MNIST (Larochelle & Murray), 28x28 0/1, 50k/10k/10k, no labels",
    "frey-face": "Frey Face, 1965 grayscale faces of 28x20, seeded split 1565/200/200, no labels",
    "digits": "scikit-learn 8x8 digits (bundled, offline), 1797 images, seeded split 1257/270/270, labels",
}
_ALIASES = {
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "binarizedmnist": "binarized-mnist",
    "bmnist": "binarized-mnist",
    "freyface": "frey-face",
    "frey": "frey-face",
}
DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
USER_SUFFIXES = (".npy", ".npz")
TABLE_SUFFIXES = (".csv", ".parquet")  # tables: vaelab.data.tables


def available_datasets() -> list[str]:
    """Names of the built-in data sets, in the order of ``DATASETS``."""
    return list(DATASETS)


class _Splits(NamedTuple):
    """What a loader produces before binarization: float32 splits, labels, class names, provenance."""

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    labels: tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]
    class_names: list[str] | None
    source: dict


def _canonical(name: str) -> str | None:
    """The built-in data set meant by ``name`` (case, '_' vs '-' and a few aliases tolerated), else None."""
    key = name.strip().lower().replace("_", "-")
    if key in DATASETS:
        return key
    return _ALIASES.get(key.replace("-", ""))


def _u8_to_float(x: np.ndarray) -> torch.Tensor:
    """uint8 array -> float32 tensor in [0, 1]."""
    return torch.from_numpy(x).to(torch.float32).div_(255.0)


def _take(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if t is None else t[idx].contiguous()


# ------------------------------------------------------------------------------------- MNIST family
def _idx_files(mirrors: list[str], md5s: dict[str, str]) -> list[dl.RemoteFile]:
    return [
        dl.RemoteFile(fn, tuple(m + fn for m in mirrors), md5, alternatives=(fn[: -len(".gz")],))
        for fn, md5 in md5s.items()
    ]


def _read_idx_pair(images: Path, labels: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) and labels (n,) in 0..9 from two IDX files, checking they agree."""
    x = read_idx(images, ndim=3)
    if x.shape != (n, 28, 28) or x.dtype != np.uint8:
        raise data_error(images, f"IDX array of shape {x.shape} and dtype {x.dtype}", f"({n}, 28, 28) uint8 images")
    y = read_idx(labels, ndim=1)
    if y.shape != (n,) or y.dtype != np.uint8 or y.max(initial=0) > 9:
        raise data_error(labels, f"IDX array of shape {y.shape}, max {y.max(initial=0)}", f"({n},) uint8 labels in 0..9")
    return x, y


def _load_idx_set(
    folder_name: str, mirrors: list[str], md5s: dict[str, str], class_names: list[str]
) -> Callable[[Path, bool, int], _Splits]:
    """A loader of an MNIST-format set in <root>/<folder_name>: first 50k train, last 10k valid, t10k test."""

    def load(root: Path, download: bool, split_seed: int) -> _Splits:
        folder = root / folder_name
        tr_x, tr_y, te_x, te_y = dl.fetch_all(_idx_files(mirrors, md5s), folder, download=download)
        x, y = _read_idx_pair(tr_x, tr_y, 60000)
        xt, yt = _read_idx_pair(te_x, te_y, 10000)
        y_t, yt_t = torch.from_numpy(y.astype(np.int64)), torch.from_numpy(yt.astype(np.int64))
        x_t, xt_t = _u8_to_float(x)[:, None], _u8_to_float(xt)[:, None]  # (N, 1, 28, 28)
        source = {
            "files": [str(p) for p in (tr_x, tr_y, te_x, te_y)],
            "split": {"method": "last 10000 training images are valid", "sizes": [50000, 10000, 10000]},
        }
        return _Splits(
            x_t[:50000], x_t[50000:], xt_t,
            (y_t[:50000], y_t[50000:], yt_t), list(class_names), source,
        )

    return load


# ------------------------------------------------------------------------------------- binarized MNIST
_BMNIST_SIZES = {"train": 50000, "valid": 10000, "test": 10000}


def _load_binarized_mnist(root: Path, download: bool, split_seed: int) -> _Splits:
    folder = root / "binarized_mnist"
    files = [
        dl.RemoteFile(
            f"binarized_mnist_{s}.amat", (dl.BINARIZED_MNIST_URL.format(split=s),), dl.BINARIZED_MNIST_MD5[s],
            alternatives=(f"binarized_mnist_{s}.amat.gz",),
        )
        for s in _BMNIST_SIZES
    ]
    paths = dl.fetch_all(files, folder, download=download)
    out = []
    for (split, n), path in zip(_BMNIST_SIZES.items(), paths):
        a = read_amat(path)
        if a.shape[0] != n:
            raise data_error(path, f"{a.shape[0]} images", f"{n} images in the {split} split of binarized MNIST")
        out.append(torch.from_numpy(a).to(torch.float32).reshape(n, 1, 28, 28))
    source = {"files": [str(p) for p in paths], "split": {"method": "published splits", "sizes": [50000, 10000, 10000]}}
    return _Splits(out[0], out[1], out[2], (None, None, None), None, source)


# ------------------------------------------------------------------------------------- Frey face
FREY_N, FREY_SPLIT = 1965, (1565, 200, 200)


def _load_frey_face(root: Path, download: bool, split_seed: int) -> _Splits:
    import scipy.io

    folder = root / "frey_face"
    path = dl.fetch("frey_rawface.mat", folder, [dl.FREY_FACE_URL], dl.FREY_FACE_MD5, download=download)
    expected = "a MATLAB file with variable 'ff' of shape (560, 1965), uint8"
    try:
        mat = scipy.io.loadmat(path, variable_names=["ff"])
    except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError, ... for bad files
        raise data_error(path, f"cannot read MATLAB file ({one_line(exc) or type(exc).__name__})", expected) from exc
    ff = mat.get("ff")
    if ff is None or ff.shape != (560, FREY_N):
        raise data_error(path, f"variable 'ff' {'missing' if ff is None else f'of shape {ff.shape}'}", expected)
    x = torch.from_numpy(np.ascontiguousarray(ff.T.reshape(FREY_N, 1, 28, 20)).astype(np.float32) / 255.0)
    tr, va, te = seeded_split(FREY_N, FREY_SPLIT, split_seed)
    source = {"files": [str(path)], "split": {"method": "seeded permutation", "seed": split_seed, "sizes": list(FREY_SPLIT)}}
    return _Splits(x[tr], x[va], x[te], (None, None, None), None, source)


# ------------------------------------------------------------------------------------- sklearn digits
DIGITS_N, DIGITS_SPLIT = 1797, (1257, 270, 270)


def _load_digits(root: Path, download: bool, split_seed: int) -> _Splits:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32)).reshape(-1, 1, 8, 8)
    y = torch.from_numpy(d.target.astype(np.int64))
    tr, va, te = seeded_split(x.shape[0], DIGITS_SPLIT, split_seed)
    source = {
        "files": ["sklearn.datasets.load_digits"],
        "split": {"method": "seeded permutation", "seed": split_seed, "sizes": list(DIGITS_SPLIT)},
    }
    return _Splits(x[tr], x[va], x[te], (y[tr], y[va], y[te]), list(DIGIT_NAMES), source)


_LOADERS: dict[str, Callable[[Path, bool, int], _Splits]] = {
    "mnist": _load_idx_set("mnist", dl.MNIST_MIRRORS, dl.MNIST_MD5, DIGIT_NAMES),
    "fashion-mnist": _load_idx_set("fashion_mnist", dl.FASHION_MNIST_MIRRORS, dl.FASHION_MNIST_MD5, FASHION_NAMES),
    "binarized-mnist": _load_binarized_mnist,
    "frey-face": _load_frey_face,
    "digits": _load_digits,
}


# ------------------------------------------------------------------------------------- user data
def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (antialiased) resize of (N, C, H, W) to ``size`` = (H, W), clamped to [0, 1]."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    y = torch.nn.functional.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return y.clamp_(0.0, 1.0)


def _load_streamed(path: Path, labels: str | Path | None, image_size: tuple[int, int] | None,
                   split_seed: int) -> tuple[_Splits, str] | None:
    """The user's data as StreamingSplits when it is too large for memory (None when it fits)."""
    if path.is_dir():
        found = streamed_folder(path, image_size)
        if found is None:
            return None
        fetch, n, item_shape, y, class_names = found
        kind = "continuous"
    else:
        found = streamed_npy(path)
        if found is None:
            return None
        if image_size is not None:
            raise ConfigError(f"{path}: too large to load, so it is streamed as stored (expected no image size; "
                              "resize the array beforehand)")
        fetch, n, item_shape, kind = found
        y, class_names = None, None
    if labels is not None:
        y = load_labels_file(labels, n)
    sizes = fraction_split_sizes(n, what=str(path))
    tr, va, te = seeded_split(n, sizes, split_seed)
    source = {"files": [str(path)] + ([str(labels)] if labels is not None else []), "streamed": True,
              "split": {"method": "seeded permutation 80/10/10", "seed": split_seed, "sizes": list(sizes)}}
    splits = tuple(StreamingSplit(fetch, idx.numpy(), item_shape) for idx in (tr, va, te))
    return _Splits(*splits, (_take(y, tr), _take(y, va), _take(y, te)), class_names, source), kind


def _load_user(path: Path, labels: str | Path | None, image_size: tuple[int, int] | None, split_seed: int) -> _Splits:
    class_names = None
    if path.is_dir():
        x, y, class_names = load_image_folder(path, image_size)
        if labels is not None:
            if class_names is not None:
                raise ConfigError(
                    f"{path}: labels come from the class subfolders (expected no separate labels file {labels})"
                )
            y = load_labels_file(labels, x.shape[0])
    elif path.suffix.lower() in USER_SUFFIXES:
        x, y = load_array_file(path, labels)
        if image_size is not None:
            x = _resize(x, image_size)
    else:
        raise data_error(path, f"unsupported file type {path.suffix or '(none)'!r}",
                         "a .npy or .npz file, or a folder of PNG/JPEG images, or a .csv/.parquet table")
    sizes = fraction_split_sizes(x.shape[0], what=str(path))
    tr, va, te = seeded_split(x.shape[0], sizes, split_seed)
    source = {
        "files": [str(path)] + ([str(labels)] if labels is not None else []),
        "split": {"method": "seeded permutation 80/10/10", "seed": split_seed, "sizes": list(sizes)},
    }
    return _Splits(
        x[tr].contiguous(), x[va].contiguous(), x[te].contiguous(),
        (_take(y, tr), _take(y, va), _take(y, te)), class_names, source,
    )


def _looks_like_path(name: str) -> bool:
    return ("/" in name or os.sep in name or name.lower().endswith(USER_SUFFIXES + TABLE_SUFFIXES)
            or name.startswith((".", "~")))


def _load_table(name: str, mode: str, labels: Any, image_size: Any, split_seed: int, columns: Any,
                label_column: str | None) -> Dataset:
    from vaelab.data.tables import load_table

    for given, what in ((mode != "none", "--binarize"), (labels is not None, "--labels (use --label-column)"),
                        (image_size is not None, "--image-size")):
        if given:
            raise ConfigError(f"{name} is a table: {what} applies to images (expected none)")
    return load_table(Path(name).expanduser(), columns=columns, label_column=label_column, split_seed=split_seed)


# ------------------------------------------------------------------------------------- entry point
def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    binarize: str | None = None,
    labels: str | Path | None = None,
    image_size: tuple[int, int] | None = None,
    split_seed: int = 0,
    download: bool = True,
    columns: str | list[str] | None = None,
    label_column: str | None = None,
) -> Dataset:
    """Load built-in data set ``name`` (see ``DATASETS``) or the user's .npy/.npz file or image folder at ``name``.

    ``binarize``: None/'none' (keep values), 'threshold' (x > 0.5) or 'dynamic' (train stays grayscale
    for per-batch sampling; valid/test binarized once with seed 0). ``labels`` (a labels file) and
    ``image_size`` (H, W resize) apply to the user's data; ``split_seed`` seeds the splits of frey-face,
    digits and user data. A built-in name wins over a same-named folder: write ./mnist for the folder.
    A .csv/.parquet ``name`` is a table (vaelab.data.tables): ``columns`` (comma-separated or a list; default
    all but the label column) and ``label_column`` pick its columns; its rows are standardised per column.
    """
    name = str(name)
    mode = check_binarize(binarize)
    if name.lower().endswith(TABLE_SUFFIXES):
        return _load_table(name, mode, labels, image_size, split_seed, columns, label_column)
    if columns is not None or label_column is not None:
        raise ConfigError(f"--columns and --label-column pick a table's columns (expected a .csv or .parquet data "
                          f"set, got {name!r})")
    canonical = None if _looks_like_path(name) else _canonical(name)
    if image_size is not None:
        image_size = tuple(int(s) for s in image_size)  # type: ignore[assignment]
        if len(image_size) != 2 or min(image_size) < 1:
            raise ConfigError(f"bad image size {image_size!r} (expected (height, width) of positive integers)")
    if canonical is not None:
        if canonical == "binarized-mnist" and mode != "none":
            raise ConfigError(
                f"binarized-mnist is already binarized (expected binarize 'none', got {binarize!r}; "
                "use mnist with binarize 'threshold' or 'dynamic' to binarize grayscale MNIST)"
            )
        if labels is not None:
            raise ConfigError(f"{canonical} has built-in labels or none (expected no labels file, got {labels})")
        root = resolve_data_root(data_dir)
        s = _LOADERS[canonical](root, download, split_seed)
        native = tuple(s.train.shape[2:])
        if image_size is not None and image_size != native:
            raise ConfigError(
                f"{canonical} images are {native[0]}x{native[1]} (expected image size {native} or none, got {image_size})"
            )
        ds_name, source = canonical, {"name": canonical, "root": str(root), **s.source}
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise DataError(one_line(
                f"unknown data set {name!r} (expected one of {', '.join(DATASETS)}, "
                "or the path of an existing .npy/.npz file or folder of PNG/JPEG images)"
            ))
        streamed = _load_streamed(path, labels, image_size, split_seed)
        if streamed is not None:  # larger than memory: read batch by batch from disk
            if mode != "none":
                raise ConfigError(f"{path} is streamed from disk (larger than memory): expected binarize 'none' "
                                  "(binarize the array beforehand)")
            s, kind = streamed
            source = {"name": str(path), **s.source, "binarize": mode, "image_shape": list(s.train.shape[1:])}
            return Dataset(name=path.stem or path.name, train=s.train, valid=s.valid, test=s.test,  # type: ignore
                           kind=kind, train_labels=s.labels[0], valid_labels=s.labels[1], test_labels=s.labels[2],
                           class_names=s.class_names, source=source)
        s = _load_user(path, labels, image_size, split_seed)
        ds_name, source = path.stem or path.name, {"name": str(path), **s.source}
    train, valid, test, kind, dynamic = binarize_splits(s.train, s.valid, s.test, mode)
    source.update(
        binarize=mode,
        dynamic_eval_seed=0 if dynamic else None,
        image_shape=list(train.shape[1:]),
        image_size=list(image_size) if image_size is not None else None,
        labels_file=str(labels) if labels is not None else None,
    )
    return Dataset(
        name=ds_name, train=train, valid=valid, test=test, kind=kind,  # type: ignore[arg-type]
        train_labels=s.labels[0], valid_labels=s.labels[1], test_labels=s.labels[2],
        class_names=s.class_names, dynamic_binarization=dynamic, source=source,
    )
