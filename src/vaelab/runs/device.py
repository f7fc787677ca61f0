"""Choosing the device a command runs on: the same rule for every command's --device."""

from __future__ import annotations

import torch

from vaelab.utils import distributed




def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is a clear error."""
    return distributed.device_for(name, torch.cuda.current_device() if torch.cuda.is_available() else 0)
