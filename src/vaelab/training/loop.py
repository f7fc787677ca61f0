"""The training loop: Adam on the negative ELBO, validation every epoch, best and last checkpoints.

The whole data set sits in one tensor on the device; a batch is an index slice of a per-epoch
permutation (no DataLoader, no per-example Python). Every epoch ends with: validation ELBO,
metrics.jsonl, model.safetensors when the validation ELBO improved, and last.safetensors, so a run
killed at any point resumes from its last finished epoch and ends with the same weights.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import torch
from tqdm import tqdm

import vaelab
from vaelab.data import load_dataset
from vaelab.data import streaming
from vaelab.data.dataset import Dataset
from vaelab.data.streaming import StreamingSplit
from vaelab.errors import ConfigError, TrainingDiverged, VaelabError
from vaelab.evaluation import evaluate
from vaelab.evaluation.likelihood import log_likelihood
from vaelab.models import build_model
from vaelab.models.objectives import Objective
from vaelab.training.checkpoint import (BEST, LAST, load_training_state, load_weights, save_training_state,
                                       save_weights)
from vaelab.training.config import TrainConfig
from vaelab.training.ema import WeightAverage
from vaelab.training.run import CONFIG, METRICS, RESULTS, Run, read_config, read_metrics
from vaelab.utils import distributed
from vaelab.utils.allocator import keep_freed_memory
from vaelab.utils.atomic import write_json_atomic, write_text_atomic

CHECK_EVERY = 50  # steps between NaN checks and progress-bar updates


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is a clear error."""
    return distributed.device_for(name, torch.cuda.current_device() if torch.cuda.is_available() else 0)


def load_data(config: TrainConfig) -> Dataset:
    """The data set named by the config (downloading only what is missing)."""
    data = load_dataset(config.dataset, data_dir=config.data_dir, binarize=config.binarize, labels=config.labels,
                        image_size=config.image_size, split_seed=config.split_seed)
    if config.train_subset is not None:
        data.limit_train(config.train_subset, seed=config.split_seed)
    return data


def default_run_dir(config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = Path(config.dataset).stem if ("/" in config.dataset or "." in config.dataset) else config.dataset
    return Path("runs") / f"{name}-{config.model}-{stamp}"


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with default betas; the fused kernel (one pass over all parameters) where torch has it."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):  # fused Adam not available for this device or torch build
        return torch.optim.Adam(model.parameters(), lr=lr)


def kl_weight(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """beta, ramped linearly from 0 over ``warmup_epochs`` (then the loss is the negative ELBO again)."""
    if config.warmup_epochs <= 0:
        return config.beta
    return config.beta * min(1.0, step / (config.warmup_epochs * steps_per_epoch))


def _rng_state(data_gen: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "data": data_gen.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], data_gen: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    data_gen.set_state(state["data"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _write_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    write_text_atomic(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in records))


def _batches(train_x: torch.Tensor | StreamingSplit, perm: torch.Tensor, batch_size: int,
             ctx: distributed.Distributed, device: torch.device) -> Iterator[tuple[int, torch.Tensor]]:
    """(global batch size, this rank's examples) for each batch of the epoch's permutation ``perm``.

    In memory, a batch is an index slice of the one data tensor; a data set streamed from disk is read
    ahead by DataLoader workers (same batches, same order)."""
    index_batches = [perm[i:i + batch_size] for i in range(0, perm.shape[0], batch_size)]
    if isinstance(train_x, StreamingSplit):
        shards = [ctx.shard(idx.cpu()) for idx in index_batches]
        for idx, x in zip(index_batches, streaming.batches(train_x, shards)):
            yield idx.shape[0], x.to(device, non_blocking=True)
    else:
        for idx in index_batches:
            yield idx.shape[0], train_x[ctx.shard(idx)]


class TrainStep(torch.nn.Module):
    """One forward pass of the objective as a module, so DistributedDataParallel (and torch.compile) can
    wrap it: returns the (rank-scaled) loss and the batch sums of the per-example metrics."""

    def __init__(self, model: torch.nn.Module, objective: Objective, precision: str, device: torch.device):
        super().__init__()
        self.model, self.objective = model, objective
        self.autocast = precision == "bf16"
        self.device_type = device.type

    def forward(self, x: torch.Tensor, beta: float, eps: torch.Tensor | None, scale: float) -> dict[str, Any]:
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.autocast):
            out = self.objective(self.model, x, beta=beta, eps=eps)
        metrics = out.metrics()
        sums = torch.stack([v.detach().double().sum() for v in metrics.values()])  # (M,)
        return {"loss": out.loss * scale, "sums": sums, "names": list(metrics)}


def train(config: TrainConfig | dict, *, resume: str | Path | None = None, quiet: bool = False) -> Run:
    """Train (or, with ``resume``, continue) a run; returns the Run with the best weights loaded.

    With ``resume`` the run directory's config.json is used; ``config`` may then override only
    ``epochs`` and ``patience`` (e.g. to train longer). Under torchrun (WORLD_SIZE > 1) it trains with
    DistributedDataParallel; ``batch_size`` is the global batch and only rank 0 writes.
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if resume is not None:
        run_dir = Path(resume)
        saved, _, _ = read_config(run_dir)
        saved.epochs, saved.patience, saved.max_minutes = config.epochs, config.patience, config.max_minutes
        config = saved
    else:
        run_dir = Path(config.out) if config.out else default_run_dir(config)
        config.out = str(run_dir)
    ctx, device = distributed.setup(config.device)
    ok = False
    try:
        run = _train(config, run_dir, resume is not None, quiet, ctx, device)
        ok = True
        return run
    finally:
        if ctx.enabled:
            gc.collect()  # free the DDP wrapper (it holds reference cycles) while its process group still exists
        distributed.teardown(ctx, ok)


def _train(config: TrainConfig, run_dir: Path, resuming: bool, quiet: bool, ctx: distributed.Distributed,
           device: torch.device) -> Run:
    # --- data, model, optimiser --------------------------------------------------------------
    torch.manual_seed(config.seed)  # the same on every rank: all ranks draw the same global noise
    if device.type == "cpu":
        keep_freed_memory()  # no page faults on each step's activation buffers (docs/benchmarks.md)
    data = load_data(config)
    model_config = config.model_config(data.image_shape, data.kind)
    model = build_model(model_config).to(device)
    if config.init_from is not None and not resuming:  # warm start (a resumed run has its own weights)
        load_weights(_init_weights_path(config.init_from), model)
    optimizer = make_optimizer(model, config.lr)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    objective = config.make_objective()
    check_precision(config.precision, device)
    train_x = data.train.to(device)  # (N, C, H, W), the whole split in one tensor
    valid_x = data.valid.to(device)
    n_train = train_x.shape[0]
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    data_gen = torch.Generator().manual_seed(config.seed)  # epoch permutations (CPU, cheap)
    stochastic = config.model == "vae"
    noise_samples = (config.k if config.objective == "iwae" else config.samples) if stochastic else 0
    _sanity_check(model, train_x[: min(8, n_train)], config)
    if config.compile is None:  # recorded in config.json, so a resumed run keeps the choice
        config.compile = compile_pays(config.epochs * n_train, device)

    # --- run directory: fresh or resumed -----------------------------------------------------
    start_epoch, step, best, bad_epochs = 0, 0, -math.inf, 0
    if resuming and (run_dir / LAST).is_file():
        extra: dict[str, torch.Tensor] = {}
        rng, meta = load_training_state(run_dir / LAST, model, optimizer, extra)
        if average is not None:
            average.load_state_tensors(extra)
        _set_rng_state(rng, data_gen, device)
        start_epoch, step, best, bad_epochs = meta["epoch"], meta["step"], meta["best"], meta["bad_epochs"]
        objective.load_state(meta.get("objective", {}))
        records = [r for r in read_metrics(run_dir) if r["epoch"] <= start_epoch]
    else:
        if not resuming and (run_dir / LAST).exists():
            raise VaelabError(f"{run_dir} already holds a run: use --resume {run_dir} to continue it, "
                              "or --out for a new directory")
        records = []
    config_doc = {"vaelab_version": vaelab.__version__, "train": config.to_dict(),
                  "model": model_config.to_dict(),
                  "data": {"name": data.name, "kind": data.kind, "image_shape": list(data.image_shape),
                           "n_train": n_train, "n_valid": valid_x.shape[0], "n_test": data.test.shape[0],
                           "dynamic_binarization": data.dynamic_binarization,
                           "class_names": data.class_names, "source": data.source}}
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / CONFIG, config_doc)
        _write_metrics(run_dir, records)
    log = _Logger(quiet or not ctx.is_main, silent=not ctx.is_main)
    log.line(f"vaelab: {model_config.model} on {data.name} {tuple(data.image_shape)} ({n_train} train), "
             f"{model_config.likelihood} likelihood, {sum(p.numel() for p in model.parameters())} parameters, "
             f"device {device}" + (f" x {ctx.world_size} ranks" if ctx.enabled else "") +
             f", {config.precision}" + (", compiled" if config.compile else "") + f"; run directory {run_dir}")

    step_module: torch.nn.Module = TrainStep(model, objective, config.precision, device)
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        step_module = DistributedDataParallel(step_module, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        step_module = torch.compile(step_module)

    # --- epochs ---------------------------------------------------------------------------------
    stopped_early = time_limited = False
    started = time.perf_counter()
    for epoch in range(start_epoch + 1, config.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n_train, generator=data_gen).to(device)  # (N,)
        sums: torch.Tensor | None = None  # running sums of the per-example metrics, on the device
        names: list[str] = []
        bar = log.bar(steps_per_epoch, f"epoch {epoch}/{config.epochs}")
        for i, (b, x) in enumerate(_batches(train_x, perm, config.batch_size, ctx, device)):
            # b: size of the global batch; x (b / ranks, C, H, W): this rank's slice of it
            if data.dynamic_binarization:  # a fresh binarization each time an image is seen
                u = torch.rand((b, *data.image_shape), device=device)
                x = (ctx.shard(u) < x).to(x.dtype)
            eps = None
            if stochastic:  # z noise for the global batch; each rank uses its slice
                eps = ctx.shard(torch.randn((noise_samples, b, model_config.latent_dim), device=device), dim=1)
            # each rank's loss is a mean over its slice; rescale so the ranks' average is the global mean
            scale = x.shape[0] * ctx.world_size / b
            out = step_module(x, kl_weight(config, step, steps_per_epoch), eps, scale)
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            optimizer.step()
            if average is not None:
                average.update()
            step += 1
            sums = out["sums"] if sums is None else sums + out["sums"]
            names = out["names"]
            if (i + 1) % CHECK_EVERY == 0 or i + 1 == steps_per_epoch:
                bad = ctx.all_reduce_sum((~torch.isfinite(out["loss"].detach())).double().reshape(1))
                if float(bad) > 0:
                    loss = float(out["loss"].detach())
                    raise TrainingDiverged(
                        f"loss became {loss} at epoch {epoch}, step {step}: training stopped; the last good "
                        f"checkpoint is in {run_dir} (try a lower --lr, or a Gaussian likelihood's variance floor)")
                seen = min((i + 1) * config.batch_size, n_train)
                bar.update(i + 1, {names[0]: float(sums[0]) * ctx.world_size / seen,
                                   "ex/s": seen / (time.perf_counter() - t0)})
        bar.close()
        train_seconds = time.perf_counter() - t0
        ctx.all_reduce_sum(sums)
        train_metrics = {f"train_{k}": float(sums[j]) / n_train for j, k in enumerate(names)}
        if average is not None:  # validation (and the best model) use the averaged weights
            raw = evaluate(model, valid_x, batch_size=config.eval_batch_size, seed=config.seed, dist=ctx)
            with average.applied():
                valid = _validate(model, valid_x, config, ctx)
            valid = {**valid, **{f"{k}_raw_weights": v for k, v in raw.items() if k in ("elbo", "reconstruction")}}
        else:
            valid = _validate(model, valid_x, config, ctx)
        # what "best" means: the bound being trained (IWAE_k or the ELBO), or the autoencoder's reconstruction
        score = valid.get("iwae", valid.get("elbo", valid.get("reconstruction")))
        improved = score > best
        if improved:
            best, bad_epochs = score, 0
        else:
            bad_epochs += 1
        for group in optimizer.param_groups:  # exponential schedule; the lr is saved with Adam's state
            group["lr"] *= config.lr_decay
        record = {"epoch": epoch, "step": step, **train_metrics,
                  **{f"valid_{k}": v for k, v in valid.items() if k != "n"},
                  "beta": kl_weight(config, step, steps_per_epoch), "seconds": train_seconds,
                  "examples_per_second": n_train / train_seconds, "lr": optimizer.param_groups[0]["lr"],
                  "epoch_seconds": time.perf_counter() - t0, "best": improved}
        records.append(record)
        if ctx.is_main:
            _write_metrics(run_dir, records)
            if improved:
                meta = {"epoch": epoch, "valid_objective": score, "model": model_config.to_dict(),
                        "weights": "average" if average is not None else "raw"}
                if average is not None:
                    with average.applied():
                        save_weights(run_dir / BEST, model, meta)
                else:
                    save_weights(run_dir / BEST, model, meta)
            save_training_state(run_dir / LAST, model, optimizer, _rng_state(data_gen, device),
                                {"epoch": epoch, "step": step, "best": best, "bad_epochs": bad_epochs,
                                 "objective": objective.state(), "config": config.to_dict()},
                                extra=average.state_tensors() if average is not None else None)
        log.line(_epoch_line(record, config.epochs))
        if config.patience is not None and bad_epochs >= config.patience:
            log.line(f"early stopping: no better valid objective for {bad_epochs} epochs")
            stopped_early = True
            break
        if config.max_minutes is not None and (time.perf_counter() - started) / 60 > config.max_minutes:
            log.line(f"time limit: stopping after epoch {epoch} ({config.max_minutes} minutes); "
                     f"continue with --resume {run_dir} --epochs N")
            time_limited = True
            break

    # --- final: best model on the test split ----------------------------------------------------
    ctx.barrier()  # rank 0 has written model.safetensors
    load_weights(run_dir / BEST, model)
    test = evaluate(model, data.test.to(device), batch_size=config.eval_batch_size, seed=config.seed, dist=ctx)
    results = {"split": "test", **test, "best_epoch": max(r["epoch"] for r in records if r["best"]),
               "epochs_run": len(records), "stopped_early": stopped_early, "time_limited": time_limited}
    if ctx.is_main:
        write_json_atomic(run_dir / RESULTS, results)
    log.line(_results_line(results))
    model.eval()
    return Run(run_dir=run_dir, config=config, model_config=model_config, model=model, metrics=records,
               results=results, data_info=config_doc["data"])


def _validate(model: torch.nn.Module, valid_x: torch.Tensor, config: TrainConfig,
              ctx: distributed.Distributed) -> dict[str, Any]:
    """Validation ELBO terms; with the IWAE objective also the valid IWAE_k bound (same k, fixed seed), which
    is what selects the best model then (an IWAE-trained model's ELBO may fall while its bound rises)."""
    valid = evaluate(model, valid_x, batch_size=config.eval_batch_size, seed=config.seed, dist=ctx)
    if config.objective == "iwae" and config.model == "vae":
        valid["iwae"] = float(log_likelihood(model, valid_x, k=int(config.k), seed=config.seed).mean())
    return valid


def _init_weights_path(init_from: str) -> Path:
    """The best weights of the run directory ``init_from`` (or a .safetensors file given directly)."""
    path = Path(init_from)
    path = path / BEST if path.is_dir() else path
    if not path.is_file():
        raise ConfigError(f"--init-from {init_from}: expected a run directory holding {BEST} or a .safetensors file")
    return path


COMPILE_MIN_EXAMPLES = 10_000_000  # example passes (epochs x training examples) from which compiling pays


def compile_pays(example_passes: int, device: torch.device) -> bool:
    """The default of ``compile``: torch.compile costs 5-20 s up front and saved ~15% per epoch on the
    default MLP (docs/benchmarks.md), so only long runs use it, and only where its compiler is there
    (a C++ compiler for the CPU, Triton for CUDA)."""
    if example_passes < COMPILE_MIN_EXAMPLES:
        return False
    if device.type == "cuda":
        return importlib.util.find_spec("triton") is not None
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def check_precision(precision: str, device: torch.device) -> None:
    """bf16 autocast needs a CPU or GPU that supports it; say so instead of failing deep inside."""
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("--precision bf16: this GPU does not support bfloat16; use --precision fp32")


def _sanity_check(model: torch.nn.Module, x: torch.Tensor, config: TrainConfig) -> None:
    """One forward pass before training (pythae): a model that outputs NaN on real data fails at once."""
    gen = torch.Generator(device=x.device).manual_seed(config.seed)
    with torch.no_grad():
        out = model(x, samples=1, generator=gen)
    if not torch.isfinite(out.loss):
        raise TrainingDiverged(f"the untrained model gives a non-finite loss ({float(out.loss)}) on the first "
                               "examples: check the data for NaN/inf values and the likelihood choice")


def _epoch_line(r: dict[str, Any], epochs: int) -> str:
    if "valid_elbo" in r:
        train_iwae = f"train IWAE {r['train_iwae']:.2f}  " if "train_iwae" in r else ""
        body = (f"{train_iwae}train ELBO {r['train_elbo']:.2f}  valid ELBO {r['valid_elbo']:.2f} "
                f"(rec {r['valid_reconstruction']:.2f}, KL {r['valid_kl']:.2f})")
        if "valid_iwae" in r:
            body += f"  valid IWAE {r['valid_iwae']:.2f}"
        if "valid_elbo_raw_weights" in r:
            body += f" [averaged weights; raw {r['valid_elbo_raw_weights']:.2f}]"
    else:
        body = (f"train log p(x|z) {r['train_reconstruction']:.2f}  "
                f"valid log p(x|z) {r['valid_reconstruction']:.2f}")
    star = " *" if r["best"] else ""
    return (f"epoch {r['epoch']:>3}/{epochs}  {body} nats  {r['seconds']:.1f}s "
            f"({r['examples_per_second']:.0f} ex/s){star}")


def _results_line(r: dict[str, Any]) -> str:
    if "elbo" in r:
        return (f"test ELBO {r['elbo']:.2f} ± {r['elbo_stderr']:.2f} nats per example "
                f"(reconstruction {r['reconstruction']:.2f}, KL {r['kl']:.2f}), best epoch {r['best_epoch']}")
    return (f"test reconstruction log p(x|z) {r['reconstruction']:.2f} nats per example "
            f"(autoencoder: no ELBO), best epoch {r['best_epoch']}")


class _Logger:
    """A tqdm bar per epoch and one summary line per epoch; ``quiet`` keeps only the lines (for logs);
    ``silent`` (ranks other than 0) prints nothing."""

    def __init__(self, quiet: bool, silent: bool = False):
        self.quiet, self.silent = quiet, silent

    def line(self, text: str) -> None:
        if self.silent:
            return
        if self.quiet:
            print(text, flush=True)
        else:
            tqdm.write(text, file=sys.stderr)

    def bar(self, total: int, desc: str) -> "_Bar":
        return _Bar(None if self.quiet else tqdm(total=total, desc=desc, leave=False, unit="step",
                                                 file=sys.stderr, dynamic_ncols=True))


class _Bar:
    def __init__(self, bar: tqdm | None):
        self.bar, self.n = bar, 0

    def update(self, n: int, postfix: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(n - self.n)
            self.bar.set_postfix({k: f"{v:.1f}" for k, v in postfix.items()}, refresh=False)
        self.n = n

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
