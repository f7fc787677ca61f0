"""A run's data: the data set its config names, loaded with the run's own options."""

from __future__ import annotations

from vaelab.data import load_dataset
from vaelab.data.dataset import Dataset
from vaelab.runs.config import TrainConfig


def load_data(config: TrainConfig) -> Dataset:
    """The data set named by the config (data root, binarization, labels, image size, split seed, subset)."""
    data = load_dataset(config.dataset, data_dir=config.data_dir, binarize=config.binarize, labels=config.labels,
                        image_size=config.image_size, split_seed=config.split_seed)
    if config.train_subset is not None:
        data.limit_train(config.train_subset, seed=config.split_seed)
    return data
