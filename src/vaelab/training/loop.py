"""The training loop: Adam on the objective (the ELBO, or IWAE_k; an autoencoder's reconstruction loss),
validation every epoch, best and last checkpoints.

The data set sits in one tensor on the device and a batch is an index slice of a per-epoch permutation (no
per-example Python); a data set larger than memory is streamed from disk through DataLoader workers in
the same order. Every epoch ends with: validation (the ELBO terms, and the IWAE_k bound for an IWAE run),
metrics.jsonl, model.safetensors when the validation bound improved, and last.safetensors, so a run killed
at any point resumes from its last finished epoch and ends with the same weights. The rules the loop
follows (schedules, early stopping, checkpoints, compile) are in policies.py and checkpoints.py.
"""

from __future__ import annotations

import gc
import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from vaelab.data.perturb import perturb
from vaelab.errors import ConfigError, TrainingDiverged, VaelabError
from vaelab.models import build_model
from vaelab.models.batched import evaluate
from vaelab.models.importance import log_likelihood
from vaelab.runs.checkpoint import BEST, LAST, load_weights
from vaelab.runs.config import TrainConfig
from vaelab.runs.data import condition_labels, load_data, n_classes
from vaelab.runs.files import RESULTS, read_config, read_metrics, write_config, write_metrics
from vaelab.runs.run import Run
from vaelab.training.checkpoints import Checkpoints, init_weights_path
from vaelab.training.ema import WeightAverage
from vaelab.training.log import TrainingLog, epoch_line, results_line
from vaelab.training.policies import (EarlyStopping, KLSchedule, TimeLimit, check_precision, compile_pays,
                                      decay_learning_rate, selection_score)
from vaelab.training.step import (TrainStep, batches, make_objective, make_optimizer, rng_state, sanity_check,
                                  set_rng_state, wrap_step)
from vaelab.training.tensorboard import epoch_logger
from vaelab.utils import distributed
from vaelab.utils.allocator import keep_freed_memory
from vaelab.utils.denormals import SWEEP_EVERY, training_tensors, zero_subnormals_
from vaelab.utils.atomic import write_json_atomic

CHECK_EVERY = 50  # steps between NaN checks and progress-bar updates


def train(config: TrainConfig | dict, *, resume: str | Path | None = None, quiet: bool = False) -> Run:
    """Train (or, with ``resume``, continue) a run; returns the Run with the best weights loaded.

    With ``resume`` the run directory's config.json is used; ``config`` may then override only
    ``epochs``, ``patience`` and ``max_minutes`` (e.g. to train longer), and turn ``tensorboard`` on. Under
    torchrun (WORLD_SIZE > 1) it trains with DistributedDataParallel; ``batch_size`` is the global batch and
    only rank 0 writes.
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if resume is not None:
        run_dir = Path(resume)
        saved, _, _ = read_config(run_dir)
        saved.epochs, saved.patience, saved.max_minutes = config.epochs, config.patience, config.max_minutes
        saved.tensorboard = saved.tensorboard or config.tensorboard
        saved.out = str(run_dir)  # where the run is now (a copied or moved run directory resumes in place)
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


def default_run_dir(config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = Path(config.dataset).stem if ("/" in config.dataset or "." in config.dataset) else config.dataset
    return Path("runs") / f"{name}-{config.model.kind}-{stamp}"


def _train(config: TrainConfig, run_dir: Path, resuming: bool, quiet: bool, ctx: distributed.Distributed,
           device: torch.device) -> Run:
    torch.manual_seed(config.seed)  # the same on every rank: all ranks draw the same global noise
    if device.type == "cpu":
        keep_freed_memory()  # no page faults on each step's activation buffers (docs/benchmarks.md)
    data = load_data(config)
    if config.perturbation and data.kind == "real":
        raise ConfigError("--perturbation replaces pixels by uniform values in [0, 1]: it takes images, not a "
                          "standardised table")
    model_config, model = _build_model(config, data, resuming, device)
    optimizer = make_optimizer(model, config.lr, float(config.weight_decay or 0.0))
    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    objective = make_objective(config)
    check_precision(config.precision, device)
    train_x, valid_x = data.train.to(device), data.valid.to(device)  # (N, C, H, W): each split one tensor
    n_train = train_x.shape[0]
    kl_weight = KLSchedule(config.beta, config.warmup_epochs, math.ceil(n_train / config.batch_size))
    data_gen = torch.Generator().manual_seed(config.seed)  # epoch permutations (CPU, cheap)
    train_y, valid_y = (_labels(model, data, split, device) for split in ("train", "valid"))  # (N,) for a CVAE
    sanity_check(model, train_x[:8], config.seed, None if train_y is None else train_y[:8])
    objective.check(model, train_x[:8], None if train_y is None else train_y[:8])  # estimator fits the model
    if config.compile is None:  # recorded in config.json, so a resumed run keeps the choice
        config.compile = compile_pays(config.epochs * n_train, device)

    checkpoints = Checkpoints(run_dir, model, optimizer, average, writes=ctx.is_main)
    stopping = EarlyStopping(config.patience)
    start_epoch, step, records = _resume(checkpoints, run_dir, resuming, data_gen, device, stopping, objective)
    data_info = _data_info(data, n_train, valid_x.shape[0])
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, config, model_config, data_info)
        write_metrics(run_dir, records)
    log = TrainingLog(quiet or not ctx.is_main, silent=not ctx.is_main)
    log.line(_header(config, model_config, model, data, n_train, device, ctx, run_dir))
    board = epoch_logger(config, run_dir, start_epoch, ctx.is_main)  # TensorBoard, or nothing
    step_module = wrap_step(TrainStep(model, objective, config.precision, device), ctx, device, config.compile)

    stopped_early = time_limited = False
    time_limit = TimeLimit(config.max_minutes)
    for epoch in range(start_epoch + 1, config.epochs + 1):
        t0 = time.perf_counter()
        train_metrics, step = _train_epoch(step_module, model, optimizer, average, data, train_x, train_y, data_gen,
                                           config, kl_weight, epoch, step, ctx, device, log, run_dir)
        train_seconds = time.perf_counter() - t0
        valid = _validate(model, average, valid_x, valid_y, config, ctx)
        improved = stopping.update(selection_score(valid))
        lr = decay_learning_rate(optimizer, config.lr_decay)
        record = {"epoch": epoch, "step": step, **train_metrics,
                  **{f"valid_{k}": v for k, v in valid.items() if k != "n"}, "beta": kl_weight(step),
                  "seconds": train_seconds, "examples_per_second": n_train / train_seconds, "lr": lr,
                  "epoch_seconds": time.perf_counter() - t0, "best": improved}
        records.append(record)
        checkpoints.end_of_epoch(
            records, improved, {"epoch": epoch, "valid_objective": stopping.best, "model": model_config.to_dict()},
            rng_state(data_gen, device), {"epoch": epoch, "step": step, "best": stopping.best,
                                          "bad_epochs": stopping.bad_epochs, "objective": objective.state(),
                                          "config": config.to_dict()})
        log.line(epoch_line(record, config.epochs))
        board.epoch(record, model, valid_x, average)
        if stopping.should_stop:
            log.line(f"early stopping: no better valid objective for {stopping.bad_epochs} epochs")
            stopped_early = True
            break
        if time_limit.exceeded():
            log.line(f"time limit: stopping after epoch {epoch} ({config.max_minutes} minutes); "
                     f"continue with --resume {run_dir} --epochs N")
            time_limited = True
            break
    return _finish(run_dir, config, model_config, model, data, records, data_info, ctx, log, board,
                   stopped_early=stopped_early, time_limited=time_limited)


def _build_model(config: TrainConfig, data: Any, resuming: bool, device: torch.device) -> tuple[Any, Any]:
    """The resolved model config and the model on ``device``: fresh (with its data-dependent initialisation,
    e.g. a VampPrior's pseudo-inputs from training images, on its own generator) or warm-started."""
    model_config = config.model.resolved(data.image_shape, data.kind, n_classes(data), data.name)
    model = build_model(model_config).to(device)
    if config.init_from is not None and not resuming:  # warm start (a resumed run has its own weights)
        load_weights(init_weights_path(config.init_from), model)
    elif not resuming:
        model.initialise_from_data(data.train, torch.Generator().manual_seed(config.seed))
    return model_config, model


def _labels(model: torch.nn.Module, data: Any, split: str, device: torch.device) -> torch.Tensor | None:
    labels = condition_labels(model, data, split)  # what a conditional model is given with x, else None
    return None if labels is None else labels.to(device)


def _train_epoch(step_module: torch.nn.Module, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 average: WeightAverage | None, data: Any, train_x: Any, train_y: torch.Tensor | None,
                 data_gen: torch.Generator,
                 config: TrainConfig, kl_weight: KLSchedule, epoch: int, step: int, ctx: distributed.Distributed,
                 device: torch.device, log: TrainingLog, run_dir: Path) -> tuple[dict[str, float], int]:
    """One pass over the training split: the mean per-example train metrics, and the step count after it."""
    model.train()
    t0 = time.perf_counter()
    n_train = train_x.shape[0]
    perm = torch.randperm(n_train, generator=data_gen).to(device)  # (N,)
    sums: torch.Tensor | None = None  # running sums of the per-example metrics, on the device
    names: list[str] = []
    bar = log.bar(kl_weight.steps_per_epoch, f"epoch {epoch}/{config.epochs}")
    for i, (b, x, y) in enumerate(batches(train_x, perm, config.batch_size, ctx, device, train_y)):
        # b: size of the global batch; x (b / ranks, C, H, W): this rank's slice of it
        if data.dynamic_binarization:  # a fresh binarization each time an image is seen
            u = torch.rand((b, *data.image_shape), device=device)
            x = (ctx.shard(u) < x).to(x.dtype)
        if config.perturbation:  # a background model's input (Ren et al. 2019): fresh noise every batch
            x = perturb(x, config.perturbation, binary=data.kind == "binary")
        eps = model.noise(config.noise_samples, b, device=device)  # z noise for the global batch, or None
        if eps is not None:  # each rank uses its slice
            eps = ctx.shard(eps, dim=1)
        # each rank's loss is a mean over its slice; rescale so the ranks' average is the global mean
        out = step_module(x, kl_weight(step), eps, x.shape[0] * ctx.world_size / b, y)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()
        if average is not None:
            average.update()
        step += 1
        if device.type == "cpu" and step % SWEEP_EVERY == 0:  # weights decayed toward 0 slow the CPU down
            zero_subnormals_(training_tensors(model, optimizer, average))
        sums = out["sums"] if sums is None else sums + out["sums"]
        names = out["names"]
        if (i + 1) % CHECK_EVERY == 0 or i + 1 == kl_weight.steps_per_epoch:
            _check_finite(out["loss"], ctx, epoch, step, run_dir)
            seen = min((i + 1) * config.batch_size, n_train)
            bar.update(i + 1, {names[0]: float(sums[0]) * ctx.world_size / seen,
                               "ex/s": seen / (time.perf_counter() - t0)})
    bar.close()
    ctx.all_reduce_sum(sums)
    return {f"train_{k}": float(sums[j]) / n_train for j, k in enumerate(names)}, step


def _check_finite(loss: torch.Tensor, ctx: distributed.Distributed, epoch: int, step: int, run_dir: Path) -> None:
    """Stop with the last good checkpoint kept when any rank's loss is NaN or infinite."""
    bad = ctx.all_reduce_sum((~torch.isfinite(loss.detach())).double().reshape(1))
    if float(bad) > 0:
        raise TrainingDiverged(
            f"loss became {float(loss.detach())} at epoch {epoch}, step {step}: training stopped; the last good "
            f"checkpoint is in {run_dir} (try a lower --lr, or a Gaussian likelihood's variance floor)")


def _validate(model: torch.nn.Module, average: WeightAverage | None, valid_x: torch.Tensor,
              valid_y: torch.Tensor | None, config: TrainConfig, ctx: distributed.Distributed) -> dict[str, Any]:
    """Validation ELBO terms (with the averaged weights, and the raw weights' ELBO beside them); with the
    IWAE objective also the valid IWAE_k bound (same k, fixed seed), which selects the best model then (an
    IWAE-trained model's ELBO may fall while its bound rises)."""
    def bounds() -> dict[str, Any]:
        valid = evaluate(model, valid_x, batch_size=config.eval_batch_size, seed=config.seed, dist=ctx, y=valid_y)
        if config.objective == "iwae" and model.has_density:
            valid["iwae"] = float(log_likelihood(model, valid_x, k=int(config.k), seed=config.seed, y=valid_y).mean())
        return valid

    if average is None:
        return bounds()
    raw = evaluate(model, valid_x, batch_size=config.eval_batch_size, seed=config.seed, dist=ctx, y=valid_y)
    with average.applied():
        valid = bounds()
    return {**valid, **{f"{k}_raw_weights": v for k, v in raw.items() if k in ("elbo", "reconstruction")}}


def _resume(checkpoints: Checkpoints, run_dir: Path, resuming: bool, data_gen: torch.Generator,
            device: torch.device, stopping: EarlyStopping, objective: Any) -> tuple[int, int, list[dict[str, Any]]]:
    """(start epoch, step, records so far): restored from last.safetensors when resuming, else a fresh start
    (refused where the directory already holds a run)."""
    resumed = checkpoints.resume_state() if resuming else None
    if resumed is None:
        if not resuming and (run_dir / LAST).exists():
            raise VaelabError(f"{run_dir} already holds a run: use --resume {run_dir} to continue it, "
                              "or --out for a new directory")
        return 0, 0, []
    rng, meta = resumed
    set_rng_state(rng, data_gen, device)
    stopping.best, stopping.bad_epochs = meta["best"], meta["bad_epochs"]
    objective.load_state(meta.get("objective", {}))
    return meta["epoch"], meta["step"], [r for r in read_metrics(run_dir) if r["epoch"] <= meta["epoch"]]


def _finish(run_dir: Path, config: TrainConfig, model_config: Any, model: torch.nn.Module, data: Any,
            records: list[dict[str, Any]], data_info: dict[str, Any], ctx: distributed.Distributed,
            log: TrainingLog, board: Any, **flags: bool) -> Run:
    """The best model on the test split: results.json, the result line, and the Run."""
    ctx.barrier()  # rank 0 has written model.safetensors
    load_weights(run_dir / BEST, model)
    test_y = condition_labels(model, data, "test")
    test = evaluate(model, data.test.to(model_device(model)), batch_size=config.eval_batch_size, seed=config.seed,
                    dist=ctx, y=None if test_y is None else test_y.to(model_device(model)))
    results = {"split": "test", **test, "best_epoch": max(r["epoch"] for r in records if r["best"]),
               "epochs_run": len(records), **flags}
    if ctx.is_main:
        write_json_atomic(run_dir / RESULTS, results)
    log.line(results_line(results))
    board.close(results)
    model.eval()
    return Run(run_dir=run_dir, config=config, model_config=model_config, model=model, metrics=records,
               results=results, data_info=data_info)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _data_info(data: Any, n_train: int, n_valid: int) -> dict[str, Any]:
    """config.json's ``data`` section: what was trained on."""
    return {"name": data.name, "kind": data.kind, "image_shape": list(data.image_shape), "n_train": n_train,
            "n_valid": n_valid, "n_test": data.test.shape[0], "dynamic_binarization": data.dynamic_binarization,
            "class_names": data.class_names, "source": data.source}


def _header(config: TrainConfig, model_config: Any, model: torch.nn.Module, data: Any, n_train: int,
            device: torch.device, ctx: distributed.Distributed, run_dir: Path) -> str:
    return (f"vaelab: {model_config.kind} on {data.name} {tuple(data.image_shape)} ({n_train} train), "
            f"{model_config.likelihood} likelihood, {sum(p.numel() for p in model.parameters())} parameters, "
            f"device {device}" + (f" x {ctx.world_size} ranks" if ctx.enabled else "") +
            f", {config.precision}" + (", compiled" if config.compile else "") +
            (f", inputs perturbed at rate {config.perturbation:g}" if config.perturbation else "") +
            (f", weight decay {config.weight_decay:g}" if config.weight_decay else "") +
            (f" (background model of {config.background_of})" if config.background_of else "") +
            f"; run directory {run_dir}")
