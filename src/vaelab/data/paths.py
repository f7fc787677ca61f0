"""Where vaelab keeps its data sets: an explicit folder, else $VAELAB_DATA_DIR, else the user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "VAELAB_DATA_DIR"


def resolve_data_root(data_dir: str | Path | None = None) -> Path:
    """The data root (not created here): ``data_dir`` if given, else $VAELAB_DATA_DIR, else <cache>/vaelab/data.

    <cache> is $XDG_CACHE_HOME when set, else ~/.cache. The root holds one folder per data set
    (binarized_mnist/, mnist/, fashion_mnist/, frey_face/).
    """
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "vaelab" / "data"
