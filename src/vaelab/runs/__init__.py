"""Runs: a saved run directory (config.json, checkpoints, metrics), loading it back, opening its data and
choosing the device. training, evaluation, visualisation and serving all stand on this layer.

Names are imported on first use, so reading a config (vaelab.runs.config) does not import torch.
"""

from __future__ import annotations

from vaelab.utils.lazy import lazy_exports

_API = {"Run": "vaelab.runs.run", "load": "vaelab.runs.run", "as_run": "vaelab.runs.run",
        "TrainConfig": "vaelab.runs.config", "load_data": "vaelab.runs.data",
        "resolve_device": "vaelab.runs.device", "read_config": "vaelab.runs.files",
        "read_metrics": "vaelab.runs.files"}
__all__ = list(_API)

__getattr__ = lazy_exports(__name__, _API)
