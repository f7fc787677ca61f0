"""A run's data: the data set its config names, loaded with the run's own options."""

from __future__ import annotations

from vaelab.data import load_dataset
from vaelab.data.dataset import Dataset
from vaelab.runs.config import TrainConfig


def load_data(config: TrainConfig) -> Dataset:
    """The data set named by the config (data root, binarization, labels, image size, split seed, subset)."""
    data = load_dataset(config.dataset, data_dir=config.data_dir, binarize=config.binarize, labels=config.labels,
                        image_size=config.image_size, split_seed=config.split_seed, columns=config.columns,
                        label_column=config.label_column)
    if config.train_subset is not None:
        data.limit_train(config.train_subset, seed=config.split_seed)
    return data


def n_classes(data: Dataset) -> int | None:
    """The number of labelled classes of a data set (None when it has no labels)."""
    if data.train_labels is None:
        return None
    if data.class_names:
        return len(data.class_names)
    return int(data.train_labels.max()) + 1 if data.train_labels.numel() else None


def condition_labels(model, data: Dataset, split: str):
    """The labels of ``split`` when ``model`` is conditional (what it must be given with x), else None."""
    if not getattr(model, "is_conditional", False):
        return None
    labels = data.labels(split)
    if labels is None:
        from vaelab.errors import DataError

        raise DataError(f"{data.name}: the {split} split has no labels, which this conditional model needs")
    return labels
