"""The in-memory data set every loader returns: train/valid/test tensors, optional labels, value kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

ValueKind = Literal["binary", "continuous", "real"]


@dataclass
class Dataset:
    """Train/valid/test splits of shape (N, C, H, W) with values in [0, 1]: float32 tensors, or for a data
    set larger than memory a ``StreamingSplit`` (memory-mapped .npy or lazily read image folder) that indexes
    like one and is read in batches.

    ``kind`` says what the pixel values are: ``binary`` (only 0 and 1) or ``continuous`` (grayscale
    intensities) or ``real`` (a standardised table, vaelab.data.tables: any real value). With
    ``dynamic_binarization`` the train split holds grayscale probabilities and the
    training loop draws a fresh Bernoulli sample of each batch (IWAE paper); valid and test were
    binarized once with a fixed seed, so evaluation numbers are stable.
    """

    name: str
    train: torch.Tensor  # (N_train, C, H, W) float32 in [0, 1] (or a StreamingSplit, see above)
    valid: torch.Tensor  # (N_valid, C, H, W)
    test: torch.Tensor  # (N_test, C, H, W)
    kind: ValueKind
    train_labels: torch.Tensor | None = None  # (N_train,) int64
    valid_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    dynamic_binarization: bool = False
    source: dict = field(default_factory=dict)  # how it was loaded: files, binarization, split seed

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one example."""
        return tuple(self.train.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> torch.Tensor:
        """The tensor of split ``train``, ``valid`` or ``test``."""
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split {name!r}: expected train, valid or test")
        return getattr(self, name)

    def labels(self, name: str) -> torch.Tensor | None:
        """The labels of split ``name`` (or None when the data set has none)."""
        self.split(name)
        return getattr(self, f"{name}_labels")

    def limit_train(self, n: int, seed: int = 0) -> "Dataset":
        """Keep a seeded random subset of ``n`` training examples (quick experiments); returns self."""
        if n < self.train.shape[0]:
            keep = torch.randperm(self.train.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
            self.train = self.train[keep]
            if self.train_labels is not None:
                self.train_labels = self.train_labels[keep]
            self.source = {**self.source, "train_subset": n}
        return self

    def to(self, device: torch.device | str) -> "Dataset":
        """Move every split (and labels) to ``device`` in place; returns self."""
        for split in ("train", "valid", "test"):
            setattr(self, split, getattr(self, split).to(device))
            lab = getattr(self, f"{split}_labels")
            if lab is not None:
                setattr(self, f"{split}_labels", lab.to(device))
        return self
