"""``vaelab train``: options (generated from TrainConfig's fields) -> TrainConfig -> vaelab.training.train."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vaelab.cli.config_options import add_config_options, merge, overrides
from vaelab.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a VAE (or the autoencoder baseline) and write a run directory",
                       description="Train a VAE on a named data set or your own .npy/.npz/image folder. "
                                   "Every option defaults to config.json's value with --config, else to "
                                   "TrainConfig's (and ModelConfig's) default.")
    add_config_options(p)
    p.add_argument("--config", help="start from a config.json (a run's, or your own)")
    p.add_argument("--recipe", help="start from a named, measured recipe (vaelab recipes lists them); options "
                                    "given with it override it")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed or finished run from its last checkpoint "
                                                       "(--epochs, --patience and --max-minutes may be given again)")
    p.add_argument("--quiet", action="store_true", help="log lines instead of a progress bar")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """TrainConfig from --config (if any) overlaid with the options given on the command line; with
    --background-of RUN, RUN's config made a background model's (TrainConfig.for_background)."""
    from vaelab.runs.config import TrainConfig

    if args.background_of:
        from vaelab.runs.files import read_config

        if args.config:
            raise ConfigError("--background-of takes the data set and network from RUN's config.json: give "
                              "--background-of or --config, not both")
        saved, _, _ = read_config(Path(args.background_of))
        given = {k: v for k, v in overrides(args).items() if k != "background_of"}
        return saved.for_background(args.background_of, **given)
    base: dict = {}
    if args.recipe and args.config:
        raise ConfigError("give --recipe or --config, not both (a recipe is a config)")
    if args.recipe:
        from vaelab.runs.recipes import get_recipe

        recipe = get_recipe(args.recipe)
        missing = [name for name in recipe.requires if getattr(args, name, None) is None]
        if missing:
            raise ConfigError(f"recipe {recipe.name} needs " + ", ".join("--" + m.replace("_", "-") + " RUN"
                                                                        for m in missing))
        base = dict(recipe.train)
    if args.config:
        path = Path(args.config)
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc}); expected a JSON file") from None
        base = dict(doc.get("train", doc))
        if args.out is None:
            base.pop("out", None)
    return TrainConfig.from_dict(merge(base, overrides(args)))


def run(args: argparse.Namespace) -> int:
    from vaelab.runs.config import TrainConfig
    from vaelab.training.loop import train

    if args.resume:  # the run's own epochs, patience and time limit unless given again
        from vaelab.runs.files import read_config

        saved, _, _ = read_config(Path(args.resume))
        config = TrainConfig(epochs=saved.epochs if args.epochs is None else args.epochs,
                             patience=saved.patience if args.patience is None else args.patience,
                             max_minutes=saved.max_minutes if args.max_minutes is None else args.max_minutes,
                             tensorboard=bool(args.tensorboard))
        train(config, resume=args.resume, quiet=args.quiet)
    else:
        train(config_from_args(args), quiet=args.quiet)
    return 0
