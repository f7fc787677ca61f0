"""Lazily imported package exports: ``import vaelab`` (and the command line's --help) stays free of torch."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, api: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``api[name]`` (a module path) on first use of ``name``."""

    def __getattr__(name: str) -> Any:
        if name in api:
            return getattr(importlib.import_module(api[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
