"""``vaelab train``: options -> TrainConfig -> vaelab.training.train."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from vaelab.errors import ConfigError
from vaelab.models.config import ACTIVATIONS, ARCHITECTURES, GAUSSIAN_VARIANCES, LIKELIHOODS, MODEL_KINDS
from vaelab.models.objectives import ESTIMATORS, OBJECTIVES
from vaelab.training import TrainConfig, train
from vaelab.training.config import BINARIZATIONS, DEVICES, PRECISIONS


def int_list(text: str) -> tuple[int, ...]:
    """'512,512' -> (512, 512)."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 512,512, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 512,512, got {text!r}")
    return values


def size_pair(text: str) -> tuple[int, int]:
    """'28x20' -> (28, 20)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH like 28x28, got {text!r}") from None
    return h, w


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a VAE (or the autoencoder baseline) and write a run directory",
                       description="Train a VAE on a named data set or your own .npy/.npz/image folder. "
                                   "Every option defaults to config.json's value with --config, else to "
                                   "TrainConfig's default.")
    a = p.add_argument
    a("--dataset", help="named data set (vaelab datasets) or a .npy/.npz file or image folder")
    a("--data-dir", help="data root (default: $VAELAB_DATA_DIR, else ~/.cache/vaelab/data)")
    a("--binarize", choices=BINARIZATIONS, help="for grayscale data: none, threshold (x>0.5) or dynamic")
    a("--labels", help="labels .npy for your own array data")
    a("--image-size", type=size_pair, help="resize an image folder to HxW")
    a("--train-subset", type=int, metavar="N", help="train on a seeded random subset of N examples")
    a("--model", choices=MODEL_KINDS, help="vae (default) or ae, the deterministic autoencoder baseline")
    a("--arch", choices=ARCHITECTURES)
    a("--latent-dim", type=int)
    a("--hidden", type=int_list, help="hidden layer sizes, e.g. 512,512")
    a("--activation", choices=ACTIVATIONS)
    a("--likelihood", choices=LIKELIHOODS, help="default: bernoulli for binary data, gaussian for grayscale")
    a("--gaussian-variance", choices=GAUSSIAN_VARIANCES, help="pixel (learned per pixel) or network")
    a("--conv-channels", type=int_list, help="channels of the conv layers, e.g. 32,64")
    a("--epochs", type=int)
    a("--batch-size", type=int)
    a("--lr", type=float)
    a("--samples", type=int, help="L, Monte-Carlo samples of z per example")
    a("--objective", choices=OBJECTIVES, help="elbo (default) or iwae (Burda et al. 2016, with --k)")
    a("--k", type=int, help="importance samples of the IWAE objective (default 50)")
    a("--estimator", choices=ESTIMATORS, help="ELBO gradient estimator: pathwise (default), score-function, stl")
    a("--no-baseline", dest="baseline", action="store_const", const=False,
      help="score-function estimator without its running-mean control variate")
    a("--beta", type=float, help="KL weight (1 = the ELBO; other values train a beta-VAE)")
    a("--warmup-epochs", type=float, help="linear KL warm-up from 0 over this many epochs")
    a("--patience", type=int, help="early stopping after this many epochs without a better valid ELBO "
                                   "(default 200; 0: off)")
    a("--lr-decay", type=float, help="multiply the learning rate by this after every epoch")
    a("--ema-decay", type=float, help="Polyak averaging of the weights for validation and the best model "
                                     "(e.g. 0.999; 0 turns it off)")
    a("--max-minutes", type=float, help="stop after the epoch that passes this many minutes (resumable; "
                                        "default 60; 0: no limit)")
    a("--seed", type=int)
    a("--device", choices=DEVICES)
    a("--precision", choices=PRECISIONS, help="fp32 (default) or bf16 autocast (sums and losses stay fp32)")
    a("--compile", action=argparse.BooleanOptionalAction, help="torch.compile the training step (--no-compile: eager)")
    a("--out", help="run directory (default runs/DATASET-MODEL-TIME)")
    a("--config", help="start from a config.json (a run's, or your own)")
    a("--init-from", metavar="RUN_DIR", help="start from this run's best weights (same network; a new run, "
                                             "e.g. IWAE fine-tuning of an ELBO run)")
    a("--resume", metavar="RUN_DIR", help="continue a killed or finished run from its last checkpoint")
    a("--quiet", action="store_true", help="log lines instead of a progress bar")
    _show_defaults(p)
    p.set_defaults(func=run)


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append TrainConfig's default to each option's help (the options themselves default to None, so that
    --config values are only overridden by options actually given)."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for action in parser._actions:
        value = defaults.get(action.dest)
        if value is None or isinstance(value, bool) or (action.help and "default" in action.help):
            continue
        shown = ",".join(str(v) for v in value) if isinstance(value, tuple) else value
        action.help = f"{action.help} (default {shown})" if action.help else f"default {shown}"


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from --config (if any) overlaid with the options given on the command line."""
    base: dict = {}
    if args.config:
        path = Path(args.config)
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc}); expected a JSON file") from None
        base = doc.get("train", doc)
        if args.out is None:
            base.pop("out", None)
    for f in fields(TrainConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            base[f.name] = value
    return TrainConfig.from_dict(base)


def run(args: argparse.Namespace) -> int:
    if args.resume:  # the run's own epochs, patience and time limit unless given again
        from vaelab.training.run import read_config

        saved, _, _ = read_config(Path(args.resume))
        config = TrainConfig(epochs=saved.epochs if args.epochs is None else args.epochs,
                             patience=saved.patience if args.patience is None else args.patience,
                             max_minutes=saved.max_minutes if args.max_minutes is None else args.max_minutes)
        train(config, resume=args.resume, quiet=args.quiet)
    else:
        train(config_from_args(args), quiet=args.quiet)
    return 0
