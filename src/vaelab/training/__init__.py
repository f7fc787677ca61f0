"""Training: the loop, its policies (schedules, early stopping, checkpoints) and the training step.

Names are imported on first use, so that the command line can read TrainConfig without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {"TrainConfig": "vaelab.runs.config", "train": "vaelab.training.loop", "Run": "vaelab.runs.run",
        "load": "vaelab.runs.run"}
__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'vaelab.training' has no attribute {name!r}")
