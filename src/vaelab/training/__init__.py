"""Training: the loop, its policies (schedules, early stopping, checkpoints) and the training step.

Names are imported on first use, so that the command line can read TrainConfig without importing torch.
"""

from __future__ import annotations

from vaelab.utils.lazy import lazy_exports

_API = {"TrainConfig": "vaelab.runs.config", "train": "vaelab.training.loop", "Run": "vaelab.runs.run",
        "load": "vaelab.runs.run"}
__all__ = list(_API)

__getattr__ = lazy_exports(__name__, _API)
