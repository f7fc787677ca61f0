"""``vaelab eval``: the numbers papers report for a run, on one split, written to RUN/eval_<split>.json.

Test ELBO with its standard error and its terms, the importance-sampled log p(x) (= the IWAE_k bound's
estimate) with k samples, active units and KL per latent dimension. All in nats per example.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import torch

from vaelab.evaluation.latent_stats import posterior_stats
from vaelab.models.batched import evaluate
from vaelab.models.importance import DEFAULT_MAX_MEMORY, log_likelihood
from vaelab.utils.atomic import write_json_atomic

AE_NOTE = ("a deterministic autoencoder defines no density p(x) (its code has no prior and no posterior), "
           "so it has no ELBO or log-likelihood: only the reconstruction term log p(x|z=f(x)) is reported")


def eval_path(run_dir: Path, split: str) -> Path:
    return Path(run_dir) / f"eval_{split}.json"


def per_example_path(run_dir: Path, split: str) -> Path:
    """RUN/eval_<split>_log_px.npy: each example's importance-sampled log p(x) (N,), for paired comparisons
    of two runs on the same images (vaelab compare)."""
    return Path(run_dir) / f"eval_{split}_log_px.npy"


def images_fingerprint(x: torch.Tensor) -> str:
    """A short SHA-256 of the evaluated examples' values: two evaluations with the same one saw the same images."""
    import hashlib

    return hashlib.sha256(x.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def evaluate_run(model, x: torch.Tensor, *, split: str = "test", k: int = 5000, batch_size: int = 100,
                 max_memory: int = DEFAULT_MAX_MEMORY, seed: int = 0,
                 progress: Callable[[int], None] | None = None, y: torch.Tensor | None = None) -> dict[str, Any]:
    """All evaluation figures for images x (N, C, H, W) as a JSON-ready dict. ``batch_size`` images go
    through each pass (the ELBO pass and each importance-sampling batch). A conditional model is given the
    labels y (N,): its figures are conditional (log p(x|y), the ELBO of log p(x|y))."""
    t0 = time.perf_counter()
    n = x.shape[0]
    result: dict[str, Any] = {"split": split, "n": n, "images_sha256": images_fingerprint(x)}
    elbo = evaluate(model, x, batch_size=batch_size, seed=seed, y=y)
    if not model.has_density:
        result.update(model="ae", reconstruction=elbo["reconstruction"],
                      reconstruction_stderr=elbo["reconstruction_stderr"], note=AE_NOTE)
        result["seconds"] = time.perf_counter() - t0
        return result
    result.update(model="vae", conditional=y is not None,
                  **{key: elbo[key] for key in ("elbo", "elbo_stderr", "reconstruction", "kl")})
    result.update(posterior_stats(model, x, y=y, seed=seed))
    t1 = time.perf_counter()
    ll = log_likelihood(model, x, k=k, batch_size=batch_size, max_memory=max_memory, seed=seed, progress=progress,
                        y=y)
    result.update(k=k, log_likelihood=float(ll.mean()),
                  log_likelihood_stderr=float(ll.std() / math.sqrt(n)) if n > 1 else float("nan"),
                  nll=-float(ll.mean()), is_seconds=time.perf_counter() - t1,
                  log_px_per_example=ll.double().cpu().numpy())  # saved beside the JSON by save_eval
    result["seconds"] = time.perf_counter() - t0
    return result


def format_table(r: dict[str, Any]) -> str:
    """The evaluation as an aligned terminal table."""
    rows = [("split", f"{r['split']} ({r['n']} examples)")]
    if r["model"] == "ae":
        rows += [("reconstruction log p(x|z)", f"{r['reconstruction']:.2f} ± {r['reconstruction_stderr']:.2f} nats"),
                 ("note", r["note"])]
    else:
        rows += [("ELBO", f"{r['elbo']:.2f} ± {r['elbo_stderr']:.2f} nats"),
                 ("  reconstruction E_q log p(x|z)", f"{r['reconstruction']:.2f}"),
                 ("  KL(q(z|x) || p(z))", f"{r['kl']:.2f}"),
                 (f"log p(x{'|y' if r.get('conditional') else ''}), importance sampled (IWAE k={r['k']})",
                  f"{r['log_likelihood']:.2f} ± {r['log_likelihood_stderr']:.2f} nats"),
                 ("NLL", f"{r['nll']:.2f} nats"),
                 ("active units (Var_x E_q[z_d] > 0.01)", f"{r['active_units']} of {r['latent_dim']}")]
        if r.get("kl_per_dim") is not None:
            rows.append(("KL per dimension (largest 5)",
                         ", ".join(f"{v:.2f}" for v in sorted(r["kl_per_dim"], reverse=True)[:5])))
        for name, layer in r.get("layers", {}).items():
            rows.append((f"  layer {name}: KL, active units",
                         f"{layer['kl']:.2f} nats, {layer['active_units']} of {layer['size']}"))
    rows.append(("time", f"{r['seconds']:.1f} s"))
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def save_eval(run_dir: Path, result: dict[str, Any]) -> Path:
    """RUN/eval_<split>.json, and each example's log p(x) in RUN/eval_<split>_log_px.npy (atomically)."""
    import numpy as np

    from vaelab.utils.atomic import atomic_path

    result = dict(result)
    per_example = result.pop("log_px_per_example", None)
    if per_example is not None:
        with atomic_path(per_example_path(run_dir, result["split"])) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(per_example, dtype=np.float64))
    path = eval_path(run_dir, result["split"])
    write_json_atomic(path, result)
    return path
