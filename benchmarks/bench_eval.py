"""Evaluation speed: `vaelab eval --k 5000` over the 10,000 binarized-MNIST test images with the BENCH model,
against a per-image loop (what pythae's get_nll does: one image at a time, its k samples in batches of 100
copies of the image through encoder and decoder), timed in the same run.

    python benchmarks/bench_eval.py [--run RUN_DIR] [--k 5000] [--reference-images 100]

Without --run it first trains BENCH for 5 epochs. The per-image loop runs on the first
``--reference-images`` test images and is extrapolated to 10,000 (it would take hours in full); both
estimates are printed on those images to show they agree. Writes docs/benchmarks/bench_eval.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from common import BENCH, DEFAULT_DATA, REPO, write_section

import vaelab
from vaelab.models.importance import log_likelihood
from vaelab.utils.allocator import keep_freed_memory


@torch.inference_mode()
def per_image_log_likelihood(model, x: torch.Tensor, k: int, sample_batch: int = 100) -> torch.Tensor:
    """pythae-style: for each image, k // sample_batch passes over sample_batch copies of it."""
    out = []
    for i in range(x.shape[0]):
        xi = x[i:i + 1].expand(sample_batch, *x.shape[1:])  # (S, C, H, W) copies of one image
        log_w = []
        for _ in range(k // sample_batch):
            post = model.encode(xi)
            z = post.mu + post.std * torch.randn_like(post.mu)  # (S, D)
            log_px_z = model.decoder_distribution(z).log_prob(xi.flatten(1))
            log_w.append(log_px_z + model.prior_distribution().log_prob(z) - post.log_prob(z))
        out.append(torch.logsumexp(torch.cat(log_w), 0) - math.log(k))
    return torch.stack(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="run directory of a trained BENCH model (default: train one, 5 epochs)")
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--reference-images", type=int, default=100)
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "bench_eval.md"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run
        if run_dir is None:
            run_dir = str(Path(tmp) / "bench")
            vaelab.train(vaelab.TrainConfig.from_dict(dict(**BENCH, epochs=5, device="cpu", data_dir=args.data_dir, out=run_dir)), quiet=True)
        model = vaelab.load(run_dir).model
        x = vaelab.load_dataset("binarized-mnist", data_dir=args.data_dir).test  # (10000, 1, 28, 28)

        # the command users run, timed as a whole (start-up, data, ELBO, active units and the IS estimate)
        cmd = [sys.executable, "-m", "vaelab", "eval", run_dir, "--k", str(args.k), "--quiet"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        ours = time.perf_counter() - t0
        doc = json.loads((Path(run_dir) / "eval_test.json").read_text())
    print(f"vaelab eval: {ours:.1f} s for {doc['n']} images, k={args.k}: log p(x) = {doc['log_likelihood']:.2f} "
          f"nats (of which the IS estimate {doc['is_seconds']:.1f} s)")

    n_ref = args.reference_images
    keep_freed_memory()  # the per-image loop gets the same allocator settings as vaelab eval
    ours_first = log_likelihood(model, x[:n_ref], k=args.k)  # on the same images, for the agreement check
    t0 = time.perf_counter()
    ref = per_image_log_likelihood(model, x[:n_ref], args.k)
    ref_seconds = time.perf_counter() - t0
    ref_full = ref_seconds * x.shape[0] / n_ref
    print(f"per-image loop: {ref_seconds:.1f} s for {n_ref} images -> {ref_full:.0f} s for {x.shape[0]} "
          f"(extrapolated); ratio {ref_full / ours:.1f}x")
    agree = float((ref - ours_first).abs().mean())
    lines = ["| method | images | k | seconds | seconds for 10,000 images | mean log p(x) on those images |",
             "|---|---|---|---|---|---|",
             f"| `vaelab eval RUN --k {args.k}` (whole command; batched over images and samples) | {doc['n']} | "
             f"{args.k} | {ours:.1f} | {ours:.1f} | {doc['log_likelihood']:.2f} (first {n_ref}, in-process: "
             f"{float(ours_first.mean()):.2f}) |",
             f"| per-image loop (pythae get_nll style) | {n_ref} | {args.k} | {ref_seconds:.1f} | "
             f"{ref_full:.0f} (extrapolated) | {float(ref.mean()):.2f} |", "",
             f"Speed-up: {ref_full / ours:.1f}x. Target: at most 8 minutes (480 s) for all 10,000 images: "
             f"{'holds' if ours <= 480 else 'does NOT hold'} ({ours / 60:.1f} min; the IS estimate itself "
             f"{doc['is_seconds']:.1f} s). On the first {n_ref} images the two estimates differ by {agree:.3f} "
             f"nats per image on average (independent samples)."]
    write_section(Path(args.out), f"Evaluation speed: importance-sampled log p(x), k={args.k}, BENCH model", lines)


if __name__ == "__main__":
    main()
