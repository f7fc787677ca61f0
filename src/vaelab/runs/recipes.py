"""Named recipes: training configurations whose results were measured on this project's 2-core machine.

A recipe is plain config (TrainConfig.from_dict's layout, every value spelled out rather than left to the
defaults, so that it means the same after a default changes). ``vaelab train --recipe NAME`` starts from it
and any option given with it overrides it; ``vaelab recipes`` lists them with what they measured.
Torch-free: listing recipes is part of the command line's start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaelab.errors import ConfigError

# the default recipe of docs/benchmarks.md ("Quality"): the network, optimiser and schedule it spells out
_ELBO_MNIST: dict[str, Any] = {
    "dataset": "binarized-mnist", "epochs": 3000, "batch_size": 100, "lr": 1e-3, "lr_decay": 0.999,
    "warmup_epochs": 50.0, "ema_decay": 0.999, "patience": 200, "max_minutes": 60.0, "objective": "elbo",
    "samples": 1, "beta": 1.0, "seed": 0,
    "model": {"kind": "vae", "arch": "mlp", "hidden": [200, 200], "latent_dim": 50, "activation": "tanh",
              "prior": "standard", "posterior": "gaussian", "stochastic_layers": 1, "gated": False},
}

# the IWAE-50 fine-tuning stage (Burda et al. 2016) that follows an ELBO recipe, from its best weights (--init-from)
_IWAE50_STAGE: dict[str, Any] = {"objective": "iwae", "k": 50, "lr": 1e-4, "lr_decay": 0.98, "warmup_epochs": 0.0}

# issue 14's VampPrior (Tomczak & Welling 2018): the default recipe's network and schedule with a K = 500
# VampPrior and He-initialised weights; 69 minutes of ELBO, then 19 of IWAE-50 with DReG: 90 minutes in all
_VAMP_MNIST: dict[str, Any] = {
    **_ELBO_MNIST, "max_minutes": 69.0,
    "model": {**_ELBO_MNIST["model"], "prior": "vamp", "pseudo_inputs": 500, "init": "he"},
}


@dataclass(frozen=True)
class Recipe:
    """One named recipe: its config, what it measured, and how to check that."""

    name: str
    summary: str
    train: dict[str, Any]
    test_nll: str  # the measured test NLL, with its standard error, k and split
    minutes: str  # training time on 2 CPU cores, every stage counted
    eval_command: str
    source: str  # where the measurement is written up
    requires: tuple[str, ...] = field(default=())  # TrainConfig fields the user must give (e.g. init_from)

    def command(self) -> str:
        """The command that reproduces the measured row (with ../shared/data as the data folder)."""
        extra = "".join(f" --{name.replace('_', '-')} RUN" for name in self.requires)
        return f"vaelab train --recipe {self.name} --data-dir ../shared/data{extra} --out runs/{self.name}"


RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe(
        name="vae-mnist",
        summary="the Gaussian VAE of Kingma & Welling on static binarized MNIST: MLP 200-200 tanh, latent 50, "
                "KL warm-up, Polyak averaging, 60 minutes (vaelab's defaults)",
        train=_ELBO_MNIST,
        test_nll="87.82 ± 0.24 nats (IS, k = 5000, 10,000 test images)",
        minutes="60",
        eval_command="vaelab eval runs/vae-mnist --k 5000",
        source="docs/benchmarks.md, Quality",
    ),
    Recipe(
        name="iwae50-finetune-mnist",
        summary="IWAE-50 fine-tuning (pathwise gradient) of a vae-mnist run's best weights (Burda et al. 2016)",
        train={**_ELBO_MNIST, **_IWAE50_STAGE, "estimator": "pathwise", "max_minutes": 30.0},
        test_nll="86.98 ± 0.23 nats (IS, k = 5000, 10,000 test images)",
        minutes="60 + 12.3 (fine-tuning stopped at 27 epochs)",
        eval_command="vaelab eval runs/iwae50-finetune-mnist --k 5000",
        source="docs/benchmarks.md, IWAE, k = 50",
        requires=("init_from",),
    ),
    Recipe(
        name="vampprior-mnist",
        summary="a VampPrior (K = 500 pseudo-inputs, Tomczak & Welling 2018) on vae-mnist's network and schedule, "
                "He-initialised: the 69-minute ELBO stage of vampprior-iwae50-mnist",
        train=_VAMP_MNIST,
        test_nll="85.60 ± 0.23 nats (IS, k = 5000, 10,000 test images)",
        minutes="68 (431 epochs; the recipe allows 69)",
        eval_command="vaelab eval runs/vampprior-mnist --k 5000",
        source="docs/benchmarks.md, VampPrior",
    ),
    Recipe(
        name="vampprior-iwae50-mnist",
        summary="IWAE-50 fine-tuning with DReG of a vampprior-mnist run's best weights, 19 minutes: a VampPrior in "
                "90 minutes of training",
        train={**_VAMP_MNIST, **_IWAE50_STAGE, "estimator": "dreg", "max_minutes": 19.0},
        test_nll="84.82 ± 0.22 nats (IS, k = 5000, 10,000 test images)",
        minutes="68 + 19.6 (19 epochs) = 87.6",
        eval_command="vaelab eval runs/vampprior-iwae50-mnist --k 5000",
        source="docs/benchmarks.md, VampPrior",
        requires=("init_from",),
    ),
]}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, or one line naming the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe {name!r}: expected one of {', '.join(RECIPES)} "
                          "(vaelab recipes lists them)") from None
