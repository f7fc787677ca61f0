"""Training configuration: one dataclass, saved as config.json in the run directory.

Re-running ``vaelab train --config RUN/config.json`` reproduces the run: it holds the data set, the
model, the optimiser settings and the seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from vaelab.errors import ConfigError
from vaelab.models.config import ModelConfig
from vaelab.models.likelihoods import check_likelihood, default_likelihood
from vaelab.models.objectives import Objective, check_objective

BINARIZATIONS = ("none", "threshold", "dynamic")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    """Everything ``vaelab train`` needs. ``likelihood=None`` picks Bernoulli for binary data and a
    Gaussian for grayscale; the resolved value is what config.json records.

    The defaults are the quality recipe measured in docs/benchmarks.md (test NLL on binarized MNIST):
    MLP 200-200 tanh, latent 50, batch 100, Adam 1e-3 decayed by 0.999 per epoch, KL warm-up over 50
    epochs, Polyak-averaged weights (0.999), early stopping after 200 epochs without a better valid ELBO,
    at most 3000 epochs or 60 minutes. Short runs (tests, demos) set ``epochs`` and usually
    ``warmup_epochs=0``."""

    # data
    dataset: str = "binarized-mnist"
    data_dir: str | None = None
    binarize: str | None = None  # none | threshold | dynamic (grayscale data sets only)
    labels: str | None = None  # labels file for the user's own arrays
    image_size: tuple[int, int] | None = None  # resize an image folder to (H, W)
    split_seed: int = 0
    train_subset: int | None = None  # use only this many (seeded random) training examples
    # model
    model: str = "vae"  # vae | ae
    arch: str = "mlp"
    latent_dim: int = 50
    hidden: tuple[int, ...] = (200, 200)
    activation: str = "tanh"
    likelihood: str | None = None
    gaussian_variance: str = "pixel"
    conv_channels: tuple[int, ...] = (32, 64)
    # optimisation
    epochs: int = 3000
    batch_size: int = 100
    lr: float = 1e-3
    samples: int = 1  # L, Monte-Carlo samples of z per example (ELBO objective)
    objective: str = "elbo"  # elbo | iwae
    k: int | None = None  # importance samples of the IWAE objective (default 50)
    estimator: str = "pathwise"  # pathwise | score-function | stl (gradient estimator of the ELBO)
    baseline: bool = True  # running-mean control variate of the score-function estimator
    beta: float = 1.0  # KL weight; 1 is the ELBO
    warmup_epochs: float = 50.0  # linear KL warm-up from 0 to beta over this many epochs
    patience: int | None = 200  # early stopping: epochs without a better valid ELBO (None: never)
    lr_decay: float = 0.999  # learning rate multiplied by this after every epoch (exponential schedule)
    ema_decay: float = 0.999  # Polyak averaging of the weights for validation and the best model (0: off)
    max_minutes: float | None = 60.0  # stop (checkpointed, resumable) after the epoch that passes this time
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # fp32 | bf16 (autocast; losses, KL and log-likelihood sums stay fp32)
    compile: bool | None = None  # torch.compile the training step; None: only for long runs (see loop.py)
    eval_batch_size: int = 1000
    out: str | None = None  # run directory; default runs/<dataset>-<model>-<time>
    init_from: str | None = None  # start from this run's best weights (same network), e.g. IWAE after ELBO

    def __post_init__(self) -> None:
        if self.patience == 0:  # 0 turns early stopping off
            self.patience = None
        if self.max_minutes == 0:  # 0 turns the time limit off
            self.max_minutes = None
        if self.objective == "iwae" and self.k is None:
            self.k = 50
        self.hidden = tuple(int(v) for v in self.hidden)
        self.conv_channels = tuple(int(v) for v in self.conv_channels)
        if self.image_size is not None:
            self.image_size = tuple(int(v) for v in self.image_size)  # type: ignore[assignment]
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError (one line) for values that cannot work."""
        if self.binarize is not None and self.binarize not in BINARIZATIONS:
            raise ConfigError(f"unknown binarize {self.binarize!r}: expected one of {', '.join(BINARIZATIONS)}")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}: expected one of {', '.join(DEVICES)}")
        for name in ("epochs", "batch_size", "samples", "latent_dim", "eval_batch_size"):
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
        # model fields are checked by ModelConfig once the data shape is known
        ModelConfig(model=self.model, arch=self.arch, latent_dim=self.latent_dim, hidden=self.hidden,
                    activation=self.activation, likelihood=self.likelihood or "bernoulli",
                    gaussian_variance=self.gaussian_variance, conv_channels=self.conv_channels)

    def model_config(self, image_shape: tuple[int, int, int], data_kind: str) -> ModelConfig:
        """The network for data of ``image_shape`` and ``data_kind``; refuses Bernoulli on grayscale."""
        likelihood = self.likelihood or default_likelihood(data_kind)
        check_likelihood(likelihood, data_kind)
        return ModelConfig(image_shape=image_shape, model=self.model, arch=self.arch, latent_dim=self.latent_dim,
                           hidden=self.hidden, activation=self.activation, likelihood=likelihood,
                           gaussian_variance=self.gaussian_variance, conv_channels=self.conv_channels)

    def make_objective(self) -> Objective:
        """The loss the training loop minimises (ELBO or IWAE_k, with the chosen gradient estimator)."""
        samples = self.k if self.objective == "iwae" else self.samples
        return Objective(self.objective, self.estimator, samples=int(samples), use_baseline=self.baseline)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("hidden", "conv_channels", "image_size"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown training config keys {sorted(unknown)}; expected some of {sorted(known)}")
        return cls(**d)
