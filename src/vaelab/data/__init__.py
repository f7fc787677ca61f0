"""vaelab data: named data sets (MNIST family, Frey face, sklearn digits) and the user's own images as a Dataset."""

from vaelab.data.amat import read_amat
from vaelab.data.binarize import BINARIZE_MODES
from vaelab.data.dataset import Dataset
from vaelab.data.download import fetch
from vaelab.data.idx import read_idx
from vaelab.data.images import load_array_file, load_image_folder
from vaelab.data.paths import resolve_data_root
from vaelab.data.registry import DATASETS, available_datasets, load_dataset

__all__ = [
    "BINARIZE_MODES",
    "DATASETS",
    "Dataset",
    "available_datasets",
    "fetch",
    "load_array_file",
    "load_dataset",
    "load_image_folder",
    "read_amat",
    "read_idx",
    "resolve_data_root",
]
