"""``vaelab demo``: the offline first run. Trains a small VAE on scikit-learn's bundled 8x8 digits
(no download), reports the test ELBO and writes prior samples and reconstructions as PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from typing import Any

DEMO_CONFIG = dict(dataset="digits", latent_dim=8, hidden=(256, 256), activation="relu", likelihood="gaussian",
                   epochs=150, batch_size=64, lr=1e-3, seed=0, device="cpu", lr_decay=1.0, warmup_epochs=0.0,
                   ema_decay=0.0, patience=None, max_minutes=None)


def run_demo(out: str | Path = "runs/demo", epochs: int | None = None, quiet: bool = False) -> dict[str, Path]:
    """Train the demo model into ``out`` and write samples.png and reconstructions.png there."""
    import torch

    from vaelab.data import load_dataset
    from vaelab.runs.config import TrainConfig
    from vaelab.training.loop import train
    from vaelab.visualisation import save_image_grid

    config = TrainConfig.from_dict({**DEMO_CONFIG, "out": str(out), **({"epochs": epochs} if epochs else {})})
    run = train(config, resume=out if (Path(out) / "last.safetensors").exists() else None, quiet=quiet)

    test = load_dataset("digits").test[:32]  # (32, 1, 8, 8)
    gen = torch.Generator().manual_seed(0)
    paths = {
        "samples": save_image_grid(run.model.sample(64, generator=gen), run.run_dir / "samples.png", nrow=8),
        # originals (odd rows) above their reconstructions (even rows)
        "reconstructions": save_image_grid(_interleave(test, run.model.reconstruct(test), 8),
                                           run.run_dir / "reconstructions.png", nrow=8),
    }
    return {**paths, "run_dir": run.run_dir}


def _interleave(a: Any, b: Any, per_row: int) -> Any:
    """Rows of ``a`` alternating with the matching rows of ``b`` (tensors (N, C, H, W)): (2N, C, H, W)."""
    import torch

    rows = []
    for start in range(0, a.shape[0], per_row):
        rows += [a[start:start + per_row], b[start:start + per_row]]
    return torch.cat(rows)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="offline demo: train on the bundled 8x8 digits, write samples (< 1 min)")
    p.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    p.add_argument("--epochs", type=int, help=f"default {DEMO_CONFIG['epochs']}")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    paths = run_demo(args.out, args.epochs, args.quiet)
    print(f"demo finished in {time.perf_counter() - t0:.1f} s; wrote:")
    for name in ("samples", "reconstructions"):
        print(f"  {paths[name]}  ({name})")
    print(f"  {paths['run_dir']}/config.json, model.safetensors, last.safetensors, metrics.jsonl, results.json")
    return 0
