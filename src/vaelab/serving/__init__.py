"""Model serving: a FastAPI app (``create_app``) with a latent-explorer web page and a JSON API.

FastAPI and uvicorn are an optional extra (``pip install 'vaelab[serve]'``); importing this package does
not import them, ``create_app`` does.
"""

from __future__ import annotations

from typing import Any

from vaelab.serving.limits import Limits, require_fastapi

__all__ = ["Limits", "create_app", "require_fastapi"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        require_fastapi()
        from vaelab.serving.app import create_app

        return create_app
    raise AttributeError(f"module 'vaelab.serving' has no attribute {name!r}")
