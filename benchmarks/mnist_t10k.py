"""Write the 10,000 labelled MNIST test images (t10k, the grayscale MNIST available offline) as a .npz file that
``vaelab train --dataset FILE.npz`` reads through its user-data path (seeded 80/10/10 split, labels kept).

    python benchmarks/mnist_t10k.py --out runs/data/mnist_t10k.npz               # all 10,000
    python benchmarks/mnist_t10k.py --out runs/data/no9.npz --exclude 9          # every class but 9
    python benchmarks/mnist_t10k.py --out runs/data/only9.npz --only 9           # the 9s only
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common import DEFAULT_DATA

from vaelab.data import read_idx
from vaelab.utils.atomic import atomic_path


def write_t10k_npz(data_dir: str | Path, out: str | Path, exclude: list[int] | None = None,
                   only: list[int] | None = None) -> tuple[Path, int]:
    """Images x (N, 28, 28) uint8 and labels y (N,) int64 of t10k, filtered by class; returns (path, N)."""
    folder = Path(data_dir) / "mnist"
    x = read_idx(folder / "t10k-images-idx3-ubyte.gz", ndim=3)  # (10000, 28, 28) uint8
    y = read_idx(folder / "t10k-labels-idx1-ubyte.gz", ndim=1).astype(np.int64)  # (10000,)
    keep = np.ones(y.shape, bool)
    if exclude:
        keep &= ~np.isin(y, exclude)
    if only:
        keep &= np.isin(y, only)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, x=x[keep], y=y[keep])
    return Path(out), int(keep.sum())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--out", required=True)
    p.add_argument("--exclude", type=int, nargs="*", help="classes to leave out")
    p.add_argument("--only", type=int, nargs="*", help="keep only these classes")
    args = p.parse_args()
    path, n = write_t10k_npz(args.data_dir, args.out, args.exclude, args.only)
    print(f"wrote {path} ({n} images)")


if __name__ == "__main__":
    main()
