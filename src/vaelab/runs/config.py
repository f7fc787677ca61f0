"""Training configuration: one dataclass, with the model's config nested inside, saved in config.json.

Re-running ``vaelab train --config RUN/config.json`` reproduces the run: it holds the data set, the
model, the optimiser settings and the seed. Torch-free: ``vaelab train``'s options are generated from
these fields' metadata (see cli/config_options.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vaelab.errors import ConfigError
from vaelab.models.config import ESTIMATORS, OBJECTIVES, ModelConfig, check_objective, option

BINARIZATIONS = ("none", "threshold", "dynamic")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")
# A background model's defaults (Ren et al. 2019), chosen on the normal data's valid split (docs/anomaly.md)
BACKGROUND_PERTURBATION = 0.3
BACKGROUND_WEIGHT_DECAY = 1e-3


@dataclass
class TrainConfig:
    """Everything ``vaelab train`` needs; ``model`` is the network (a ModelConfig, with its own defaults).

    The defaults are the quality recipe measured in docs/benchmarks.md (test NLL on binarized MNIST):
    MLP 200-200 tanh, latent 50, batch 100, Adam 1e-3 decayed by 0.999 per epoch, KL warm-up over 50
    epochs, Polyak-averaged weights (0.999), early stopping after 200 epochs without a better valid
    bound, at most 3000 epochs or 60 minutes. Short runs (tests, demos) set ``epochs`` and usually
    ``warmup_epochs=0``."""

    # data
    dataset: str = option("binarized-mnist", "named data set (vaelab datasets) or a .npy/.npz file or image folder")
    data_dir: str | None = option(None, "data root (default: $VAELAB_DATA_DIR, else ~/.cache/vaelab/data)")
    binarize: str | None = option(None, "for grayscale data: none, threshold (x>0.5) or dynamic",
                                  choices=BINARIZATIONS)
    labels: str | None = option(None, "labels .npy for your own array data")
    image_size: tuple[int, int] | None = option(None, "resize an image folder to HxW")
    split_seed: int = option(0, "seed of the train/valid/test split where a data set has none", cli=False)
    train_subset: int | None = option(None, "train on a seeded random subset of N examples")
    columns: str | None = option(None, "a .csv/.parquet table's numeric feature columns, comma-separated "
                                       "(default: every column but --label-column)")
    label_column: str | None = option(None, "a table's label column (class labels; not a feature)")
    # model
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"nested": True})
    # optimisation
    epochs: int = option(3000, "epochs at most")
    batch_size: int = option(100, "examples per step")
    lr: float = option(1e-3, "Adam's learning rate")
    samples: int = option(1, "L, Monte-Carlo samples of z per example (ELBO objective)")
    objective: str = option("elbo", "elbo, or iwae (Burda et al. 2016, with --k)", choices=OBJECTIVES)
    k: int | None = option(None, "importance samples of the IWAE objective (default 50)")
    estimator: str = option("pathwise", "gradient estimator of the ELBO", choices=ESTIMATORS)
    baseline: bool = option(True, "running-mean control variate of the score-function estimator",
                            flag="--no-baseline")
    beta: float = option(1.0, "KL weight (1 = the ELBO; other values train a beta-VAE)")
    free_bits: float = option(0.0, "nats per stochastic layer below which the loss ignores that layer's KL "
                                   "(Kingma et al. 2016; guards a top layer against collapse; 0: off; the "
                                   "reported ELBO is always the true bound)")
    warmup_epochs: float = option(50.0, "linear KL warm-up from 0 to beta over this many epochs")
    patience: int | None = option(200, "early stopping after this many epochs without a better valid bound "
                                       "(the ELBO, or IWAE_k with --objective iwae); 0: off")
    lr_decay: float = option(0.999, "multiply the learning rate by this after every epoch")
    ema_decay: float = option(0.999, "Polyak averaging of the weights for validation and the best model; 0: off")
    max_minutes: float | None = option(60.0, "stop after the epoch that passes this many minutes (resumable); "
                                             "0: no limit")
    seed: int = option(0, "random seed (weights, batches, noise)")
    device: str = option("auto", "auto (CUDA when there is one), cpu or cuda", choices=DEVICES)
    precision: str = option("fp32", "fp32, or bf16 autocast (losses, KL and likelihood sums stay fp32)",
                            choices=PRECISIONS)
    compile: bool | None = option(None, "torch.compile the training step (default: long runs only)")
    eval_batch_size: int = option(1000, "images per batch of the validation and test passes", cli=False)
    out: str | None = option(None, "run directory (default runs/DATASET-MODEL-TIME)")
    tensorboard: bool = option(False, "log per-epoch scalars, sample and reconstruction images and the hparams "
                                      "to RUN/tensorboard (needs pip install 'vaelab[tensorboard]')")
    tensorboard_images_every: int = option(10, "epochs between TensorBoard's image grids")
    init_from: str | None = option(None, "start from this run's best weights (same network; a new run, "
                                         "e.g. IWAE fine-tuning of an ELBO run)")
    background_of: str | None = option(None, "train the background model of this RUN for `vaelab score --method "
                                             "ratio`: RUN's data set, network and training options, on inputs "
                                             "perturbed as Ren et al. (2019) do (--perturbation, --weight-decay)",
                                       flag="--background-of")
    perturbation: float | None = option(None, "rate at which each training pixel is replaced by a uniform random "
                                              "value, drawn afresh every batch (Ren et al. 2019) (default 0, or "
                                              f"{BACKGROUND_PERTURBATION:g} with --background-of)")
    weight_decay: float | None = option(None, "L2 penalty on the weights (Adam's weight_decay) (default 0, or "
                                              f"{BACKGROUND_WEIGHT_DECAY:g} with --background-of)")

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        if self.patience == 0:  # 0 turns early stopping off
            self.patience = None
        if self.max_minutes == 0:  # 0 turns the time limit off
            self.max_minutes = None
        if self.objective == "iwae" and self.k is None:
            self.k = 50
        if self.image_size is not None:
            self.image_size = tuple(int(v) for v in self.image_size)  # type: ignore[assignment]
        background = self.background_of is not None
        if self.perturbation is None:  # config.json records the value used
            self.perturbation = BACKGROUND_PERTURBATION if background else 0.0
        if self.weight_decay is None:
            self.weight_decay = BACKGROUND_WEIGHT_DECAY if background else 0.0
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError (one line) for values that cannot work (the model checks its own fields)."""
        if self.binarize is not None and self.binarize not in BINARIZATIONS:
            raise ConfigError(f"unknown binarize {self.binarize!r}: expected one of {', '.join(BINARIZATIONS)}")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}: expected one of {', '.join(DEVICES)}")
        for name in ("epochs", "batch_size", "samples", "eval_batch_size", "tensorboard_images_every"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        check_objective(self.objective, self.estimator)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        if self.k is not None and self.k < 1:
            raise ConfigError(f"k (importance samples) must be >= 1, got {self.k}")
        if self.k is not None and self.objective != "iwae":
            raise ConfigError("--k sets the IWAE objective's importance samples: use it with --objective iwae "
                              "(--samples sets L for the ELBO)")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not self.beta >= 0:
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if not self.free_bits >= 0:
            raise ConfigError(f"free_bits must be >= 0, got {self.free_bits}")
        if self.free_bits > 0 and (self.objective != "elbo" or self.estimator != "pathwise"):
            raise ConfigError("--free-bits applies to the ELBO with the pathwise estimator")
        if not self.warmup_epochs >= 0:
            raise ConfigError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if self.train_subset is not None and self.train_subset < 1:
            raise ConfigError(f"train_subset must be >= 1 examples, got {self.train_subset}")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1) (0 turns weight averaging off), got {self.ema_decay}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"max_minutes must be > 0, got {self.max_minutes}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be >= 1 epochs, got {self.patience}")
        if not 0 <= float(self.perturbation or 0.0) <= 1:
            raise ConfigError(f"perturbation must be a rate in [0, 1], got {self.perturbation}")
        if not float(self.weight_decay or 0.0) >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")

    def for_background(self, run_dir: str, **overrides: Any) -> "TrainConfig":
        """The config of the background model of the run this config trained (in ``run_dir``): the same data set,
        network and training options, with ``background_of`` set (so the perturbation and weight decay take
        their background defaults unless ``overrides`` give them), a fresh run directory and no warm start."""
        d = self.to_dict()
        d.update(out=None, init_from=None, tensorboard=False, background_of=str(run_dir), perturbation=None,
                 weight_decay=None)
        model = overrides.pop("model", None)
        d.update(overrides)
        if model:
            d["model"] = {**d["model"], **model}
        return TrainConfig.from_dict(d)

    @property
    def noise_samples(self) -> int:
        """z samples per example of the objective: k for IWAE, L for the ELBO."""
        return int(self.k if self.objective == "iwae" else self.samples)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        if d["image_size"] is not None:
            d["image_size"] = list(d["image_size"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """From ``to_dict``'s output, or the flat layout of format 1 (vaelab 0.1), where the model's fields
        stood beside the training fields and ``model`` named the kind ('vae' or 'ae')."""
        d = dict(d)
        model = d.pop("model", None)
        model = dict(model) if isinstance(model, dict) else ({} if model is None else {"kind": model})
        model_fields = {f.name for f in fields(ModelConfig)}
        for key in list(d):
            if key in model_fields:
                model[key] = d.pop(key)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown training config keys {sorted(unknown)}; expected some of "
                              f"{sorted(known | model_fields)}")
        return cls(**d, model=ModelConfig.from_dict(model))
