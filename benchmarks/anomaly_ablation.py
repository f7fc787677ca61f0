"""ANOMALY ABLATION: what the complexity score's compressor and a likelihood ratio's background model change, pair
by pair, on the digit models that benchmarks/anomaly.py trained (run it first; its runs and data are reused).

This is a measurement after the fact, not a selection: the default compressor was chosen on the normal valid split
alone (benchmarks/anomaly.py, ``select``), and every row below was computed on the anomalous sets, so a row that
looks better here was picked by looking at anomalies. It says where a better default could come from, and what
the next selection rule has to find without them.

Rows, for each digit model (Bernoulli on thresholded pixels, Gaussian on grayscale):
- ``nll``: -log p(x);
- ``complexity (C)``: -log P(x) - L_C(x) for each compressor C, and for the shortest code of all of them
  (min over C of L_C, plus ln of their number: a code that names its compressor);
- ``ratio vs independent pixels``: -log P(x) + log P_pix(x), where P_pix treats the pixels as independent, each
  with the smoothed histogram of its values over the run's training split (two levels for 1-bit images, 256 for
  8-bit ones): the simplest background model, which knows population statistics (where ink usually is) and no
  shapes.

    python benchmarks/anomaly_ablation.py [--runs runs/anomaly] [--seed 0] [-k 250]

Writes docs/benchmarks/anomaly_ablation.md and .json.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from common import REPO, command_line, machine

import vaelab
from vaelab.data.complexity import COMPRESSORS, quantise
from vaelab.evaluation.anomaly import detection_metrics, prepare_specs
from vaelab.runs import anomaly_scores as scores
from vaelab.runs.data import load_data
from vaelab.utils.atomic import write_json_atomic, write_text_atomic

SETS = ("holdout", "blank", "constant", "inverted", "noise", "rotated")


def independent_pixels(train: torch.Tensor, binary: bool, smoothing: float = 0.5) -> np.ndarray:
    """log P_pix(level) per pixel: (D, L) float64, L = 2 (binary) or 256 levels, from the training images'
    per-pixel histograms with ``smoothing`` added to every count."""
    q = quantise(train, binary).reshape(train.shape[0], -1).astype(np.int64)  # (N, D)
    levels = 2 if binary else 256
    counts = np.zeros((q.shape[1], levels))
    np.add.at(counts, (np.broadcast_to(np.arange(q.shape[1]), q.shape), q), 1.0)
    counts += smoothing
    return np.log(counts / counts.sum(1, keepdims=True))


def pixel_nll(log_table: np.ndarray, x: torch.Tensor, binary: bool) -> np.ndarray:
    """-log P_pix(x) in nats for images x (N, C, H, W): (N,)."""
    q = quantise(x, binary).reshape(x.shape[0], -1).astype(np.int64)  # (N, D)
    return -log_table[np.arange(q.shape[1]), q].sum(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default=str(REPO / "runs" / "anomaly"))
    p.add_argument("--seed", type=int, default=0, help="the training seed's models (default 0)")
    p.add_argument("-k", type=int, default=250, help="importance samples per image (default 250)")
    p.add_argument("--docs", default=str(REPO / "docs"))
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    root, t0 = Path(args.runs), time.perf_counter()
    data = root / "data"
    specs = {"normal": f"{data}/mnist_t10k_no9.npz:test", "holdout": f"{data}/mnist_t10k_only9.npz",
             **{name: f"{data}/{name}.npz" for name in SETS if name != "holdout"}}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for kind in ("bernoulli", "gaussian"):
        run = vaelab.load(root / f"seed{args.seed}" / f"digits-{kind}")
        binary = scores.is_binary_model(run)
        table = independent_pixels(load_data(run.config).train, binary)
        per_set = {}
        for name, spec in specs.items():
            x = prepare_specs(run, [spec])[0][2]
            nll = scores.nll_scores(run.model, x, args.k, seed=args.seed)  # -log p(x)
            terms = {c: scores.complexity_term(run, x, c) for c in COMPRESSORS}  # L_C(x) - (D ln 256 for a density)
            offset = 0.0 if binary else x[0].numel() * math.log(256.0)  # -log P(x) of 8-bit levels = nll + offset
            per_set[name] = {"nll": nll, **{f"complexity ({c})": nll - terms[c] for c in COMPRESSORS},
                             "complexity (shortest code)": nll - (np.min(list(terms.values()), 0)
                                                                  + math.log(len(COMPRESSORS))),
                             "ratio vs independent pixels": nll + offset - pixel_nll(table, x, binary)}
            print(f"{kind} {name}: {x.shape[0]} images", flush=True)
        results[kind] = {row: {s: detection_metrics(per_set["normal"][row], per_set[s][row])["auroc"] for s in SETS}
                         for row in per_set["normal"]}
    doc = {"machine": machine(), "command": command_line(), "k": args.k, "seed": args.seed, "results": results,
           "seconds": time.perf_counter() - t0}
    out = Path(args.docs) / "benchmarks"
    write_json_atomic(out / "anomaly_ablation.json", doc)
    write_text_atomic(out / "anomaly_ablation.md", render(doc))
    print(f"wrote {out / 'anomaly_ablation.md'}")


def render(doc: dict) -> str:
    lines = ["# Anomaly scores: the compressor and the background model, pair by pair", "",
             f"Written by `{doc['command']}` ({doc['seconds'] / 60:.0f} min; {doc['machine']}). ROC-AUC of the "
             f"seed-{doc['seed']} digit models of docs/anomaly.md, k = {doc['k']}; normal set: the held-out "
             "digits. **Chosen after looking at the anomalies**: read it as a map for the next selection, not as "
             "a result (benchmarks/anomaly_ablation.py says why).", ""]
    for kind, rows in doc["results"].items():
        nll = rows["nll"]
        lines += [f"## {kind} decoder", "", "| score | " + " | ".join(SETS) + " | worst loss against nll |",
                  "|---|" + "---|" * (len(SETS) + 1)]
        for row, aucs in rows.items():
            loss = max(nll[s] - aucs[s] for s in SETS if s not in ("blank", "constant"))
            lines.append(f"| {row} | " + " | ".join(f"{aucs[s]:.3f}" for s in SETS) + f" | {loss:+.3f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
