"""Shared low-level helpers of the data loaders: one-line DataErrors and reading (optionally gzipped) files."""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

from vaelab.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"


def one_line(text: object) -> str:
    """Collapse any whitespace runs (newlines included) into single spaces, so messages stay one line."""
    return re.sub(r"\s+", " ", str(text)).strip()


def data_error(path: str | Path, problem: str, expected: str) -> DataError:
    """A DataError whose single-line message names ``path``, what is wrong and what was expected."""
    return DataError(one_line(f"{path}: {problem} (expected {expected})"))


def read_bytes(path: str | Path, expected: str) -> bytes:
    """The contents of ``path``, gunzipped when it is a gzip file (by ``.gz`` suffix or magic bytes).

    Missing, unreadable, truncated or corrupt files raise a DataError that names ``path`` and ``expected``.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "file not found"
        raise data_error(path, what, expected)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise data_error(path, f"cannot read file ({exc.strerror or exc})", expected) from exc
    is_gz = raw[:2] == GZIP_MAGIC
    if path.suffix.lower() == ".gz" and not is_gz:
        raise data_error(path, "not a gzip file (bad magic bytes)", f"a gzip file of {expected}")
    if not is_gz:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as exc:
        raise data_error(path, "truncated gzip stream", f"a complete gzip file of {expected}") from exc
    except (OSError, zlib.error) as exc:
        raise data_error(path, f"corrupt gzip stream ({one_line(exc)})", f"a valid gzip file of {expected}") from exc
