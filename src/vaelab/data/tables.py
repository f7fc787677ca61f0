"""Tabular data: a CSV or Parquet table of numeric columns as a Dataset, standardised per column.

A table of N rows and F feature columns becomes examples of shape (1, 1, F), so the MLP encoder and decoder
flatten them like images; its ``kind`` is ``real`` (values on the whole real line), which gives a Gaussian
likelihood with an unbounded mean. Each column is standardised with the *train split's* mean and standard
deviation; that scaling (``TableScaling``: columns, means, stds, label column) is stored in the run's
config.json (``data.source.table``) and applied to every new row that is scored or encoded, so new rows are
measured in the same units as the training rows.

Units: log p(x) of a standardised row x' = (x - m) / s is log p(x') = log p(x) + sum_j log s_j, so a score in
raw units is the standardised one plus ``TableScaling.log_scale`` (for -log p(x): minus it). Rankings (and
ROC-AUC) are the same in both.

Reading needs pandas (and pyarrow for Parquet): the ``tables`` extra. Bad tables stop with one line naming the
column and row: a non-numeric value, a missing value, a constant column, columns missing for the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vaelab.data.dataset import Dataset
from vaelab.errors import ConfigError, DataError

TABLE_SUFFIXES = (".csv", ".parquet")
TABLES_EXTRA = "pip install 'vaelab[tables]'"


def is_table(name: str | Path) -> bool:
    """True for a .csv or .parquet path."""
    return str(name).lower().endswith(TABLE_SUFFIXES)


@dataclass
class TableScaling:
    """Per-column standardisation x' = (x - mean) / std, from a run's training rows."""

    columns: list[str]
    means: list[float]
    stds: list[float]
    label_column: str | None = None

    @property
    def log_scale(self) -> float:
        """sum_j log std_j: log p(x) in raw units = log p(x') in standardised units - log_scale."""
        return float(sum(math.log(s) for s in self.stds))

    def standardise(self, values: np.ndarray) -> np.ndarray:
        return (values - np.asarray(self.means)) / np.asarray(self.stds)

    def unstandardise(self, values: np.ndarray) -> np.ndarray:
        return values * np.asarray(self.stds) + np.asarray(self.means)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "means": list(self.means), "stds": list(self.stds),
                "label_column": self.label_column, "log_scale": self.log_scale}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TableScaling":
        return cls(list(d["columns"]), [float(v) for v in d["means"]], [float(v) for v in d["stds"]],
                   d.get("label_column"))


def table_scaling(data_info: dict[str, Any] | None) -> TableScaling | None:
    """The scaling stored in a run's config.json data section (None for a run on images)."""
    table = ((data_info or {}).get("source") or {}).get("table")
    return None if table is None else TableScaling.from_dict(table)


def _names(names: Sequence[str], at_most: int = 5) -> str:
    """'a', 'b', 'c' (and 7 more): column names for a one-line message."""
    names = list(names)
    shown = ", ".join(map(repr, names[:at_most]))
    return shown + (f" and {len(names) - at_most} more" if len(names) > at_most else "")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ConfigError(f"tables (.csv, .parquet) need pandas and pyarrow: {TABLES_EXTRA}") from None
    return pandas


def read_frame(path: str | Path) -> Any:
    """The table at ``path`` as a pandas DataFrame (one line on an unreadable file)."""
    pd = _pandas()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found (expected a .csv or .parquet table)")
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except ImportError:
        raise ConfigError(f"{path}: Parquet needs pyarrow: {TABLES_EXTRA}") from None
    except Exception as exc:  # pandas raises many kinds for a broken file
        raise DataError(f"{path}: cannot read the table ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if len(frame) == 0:
        raise DataError(f"{path}: no rows (expected a table with a header and numeric rows)")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def numeric_values(frame: Any, columns: Sequence[str], path: str | Path) -> np.ndarray:
    """The ``columns`` of ``frame`` as float64 (N, F); one line naming the first non-numeric or missing value
    (rows counted from 1, the first data row)."""
    pd = _pandas()
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no column(s) {_names(missing)} (the table has {_names(frame.columns)})")
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        raw = frame[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bool(bad.any()):
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: column {col!r}, row {row + 1}: non-numeric value {raw.iloc[row]!r} "
                            "(expected numbers; leave non-numeric columns out with --columns)")
        if bool(values.isna().any()):
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DataError(f"{path}: column {col!r}, row {row + 1}: missing value (expected a number in every "
                            "row: fill or drop missing values first)")
        arr = values.to_numpy(dtype=np.float64)
        if not np.isfinite(arr).all():
            row = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise DataError(f"{path}: column {col!r}, row {row + 1}: infinite value (expected finite numbers)")
        out[:, j] = arr
    return out


def _feature_columns(frame: Any, columns: str | Sequence[str] | None, label_column: str | None,
                     path: str | Path) -> list[str]:
    if label_column is not None and label_column not in frame.columns:
        raise DataError(f"{path}: no label column {label_column!r} (the table has {_names(frame.columns)})")
    if columns is None:
        return [c for c in frame.columns if c != label_column]
    names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else list(columns)
    if label_column in names:
        raise ConfigError(f"column {label_column!r} is the label column: leave it out of --columns")
    return [c for c in names if c]


def _labels(frame: Any, label_column: str | None, path: str | Path) -> tuple[torch.Tensor | None, list[str] | None]:
    """Integer labels (N,) from the label column (values 0..K-1 kept, other values numbered in sorted order)."""
    if label_column is None:
        return None, None
    raw = frame[label_column]
    if bool(raw.isna().any()):
        row = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise DataError(f"{path}: label column {label_column!r}, row {row + 1}: missing label")
    values = raw.to_numpy()
    classes = sorted(set(values.tolist()), key=lambda v: (str(type(v)), v))
    if all(isinstance(v, (int, np.integer)) for v in classes) and min(classes) >= 0:
        return torch.from_numpy(values.astype(np.int64)), [str(v) for v in range(int(max(classes)) + 1)]
    index = {v: i for i, v in enumerate(classes)}
    return torch.tensor([index[v] for v in values.tolist()], dtype=torch.int64), [str(v) for v in classes]


def load_table(path: str | Path, *, columns: str | Sequence[str] | None = None, label_column: str | None = None,
               split_seed: int = 0) -> Dataset:
    """A table as a Dataset: a seeded 80/10/10 split of the rows, each column standardised with the train
    split's mean and std (stored in ``source['table']``); examples (N, 1, 1, F), kind ``real``."""
    from vaelab.data.splits import fraction_split_sizes, seeded_split

    path = Path(path)
    frame = read_frame(path)
    names = _feature_columns(frame, columns, label_column, path)
    if not names:
        raise DataError(f"{path}: no feature columns (expected numeric columns besides the label column)")
    values = numeric_values(frame, names, path)  # (N, F) raw units
    labels, class_names = _labels(frame, label_column, path)
    sizes = fraction_split_sizes(values.shape[0], what=str(path))
    tr, va, te = seeded_split(values.shape[0], sizes, split_seed)
    train = values[tr.numpy()]
    means, stds = train.mean(0), train.std(0)
    constant = np.flatnonzero(stds < 1e-12)
    if constant.size:
        col = names[int(constant[0])]
        raise DataError(f"{path}: column {col!r} is constant ({train[0, constant[0]]:g} in every training row), so "
                        "it cannot be standardised: leave it out with --columns")
    scaling = TableScaling(names, means.tolist(), stds.tolist(), label_column)
    x = torch.from_numpy(scaling.standardise(values).astype(np.float32)).reshape(-1, 1, 1, len(names))
    take = lambda t, idx: None if t is None else t[idx].contiguous()  # noqa: E731
    source = {"name": str(path), "files": [str(path)], "table": scaling.to_dict(),
              "split": {"method": "seeded permutation 80/10/10", "seed": split_seed, "sizes": list(sizes)},
              "image_shape": [1, 1, len(names)], "binarize": "none"}
    return Dataset(name=path.stem, train=x[tr].contiguous(), valid=x[va].contiguous(), test=x[te].contiguous(),
                   kind="real", train_labels=take(labels, tr), valid_labels=take(labels, va),
                   test_labels=take(labels, te), class_names=class_names, source=source)


def load_table_rows(path: str | Path, scaling: TableScaling) -> tuple[torch.Tensor, torch.Tensor | None]:
    """New rows of a table for a run trained on ``scaling``'s columns: standardised (N, 1, 1, F) float32, and
    integer labels where the table has the run's label column with integer values."""
    frame = read_frame(path)
    missing = [c for c in scaling.columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: lacks {len(missing)} of the {len(scaling.columns)} columns the run was trained on: "
                        f"{_names(missing)} (expected the columns {_names(scaling.columns)})")
    values = numeric_values(frame, scaling.columns, path)
    x = torch.from_numpy(scaling.standardise(values).astype(np.float32)).reshape(-1, 1, 1, len(scaling.columns))
    labels = None
    if scaling.label_column is not None and scaling.label_column in frame.columns:
        raw = frame[scaling.label_column]
        if raw.notna().all() and np.issubdtype(raw.dtype, np.integer):
            labels = torch.from_numpy(raw.to_numpy().astype(np.int64))
    return x, labels


def write_table(path: str | Path, rows: np.ndarray, columns: Sequence[str]) -> Path:
    """Rows (N, F) with a header of ``columns`` as CSV (atomically)."""
    import io

    from vaelab.utils.atomic import write_text_atomic

    buf = io.StringIO()
    buf.write(",".join(columns) + "\n")
    np.savetxt(buf, np.asarray(rows, dtype=np.float64), delimiter=",", fmt="%.9g")
    write_text_atomic(path, buf.getvalue())
    return Path(path)
