"""Anomaly scores of a run's model: five methods with one sign convention (higher = more anomalous), in nats.

- ``nll``: -log p(x), importance-sampled with k samples from q(z|x) (models/importance.py). Falls for simple
  inputs: a blank image is likelier under a digit model than most digits (Nalisnick et al. 2019).
- ``complexity`` (Serrà et al. 2020): -log P(x) - L(x). P(x) is the model's probability of the input as stored,
  L(x) its length under a general-purpose compressor (data/complexity.py): the log ratio of the model's
  probability to a universal model's. For a density on grayscale pixels (Gaussian, continuous Bernoulli) the
  input is 8-bit levels, and P(x) = p(x) / 256^D (each level a bin of width 1/256), so -log P(x) = -log p(x) +
  D ln 256; a Bernoulli model's p(x) is already a probability of the binary image.
- ``typicality`` (Nalisnick, Matsukawa, Teh & Lakshminarayanan 2019): |mean of -log p(x) over a batch of M
  inputs - H|, where H is the mean -log p(x) of the run's valid split (normal data the model was not trained
  on). M = 1 scores each input (the two-sided |-log p(x) - H|); M > 1 scores each batch of M consecutive inputs.
- ``ratio`` (Ren et al. 2019): -log p(x) - (-log p_bg(x)), with p_bg a background model: a VAE trained on perturbed
  inputs (``vaelab train --background-of RUN``), or ``pixels``, independent per-pixel histograms of the run's
  training split (data/pixel_model.py): what the model explains beyond population-level statistics.
- ``regret`` (Xiao et al. 2020): how much the bound rises when the encoder is fine-tuned on the input alone
  (models/regret.py). Does not need log p(x) at all.

Inputs must be given as the run's model sees them (thresholded for a thresholded run: evaluation.anomaly's
INPUT loader does that). ``AnomalyScorer`` bundles a method with its options for the commands and the server;
the ``*_scores`` functions are the Python API, one per method.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from vaelab.data.complexity import check_compressor, compressed_length, level_offset
from vaelab.data.pixel_model import IndependentPixels
from vaelab.errors import ConfigError, VaelabError
from vaelab.runs.anomaly_config import (DEFAULT_COMPRESSOR, DEFAULT_METHOD, DEFAULT_REGRET_LR, DEFAULT_REGRET_STEPS,
                                        METHODS, REFERENCE_LIMIT)
from vaelab.runs.config import BACKGROUND_PERTURBATION


def default_method(run: Any) -> str:
    """The method a command uses when none is named: DEFAULT_METHOD, or nll where that does not apply (the
    complexity score compresses images, which a run on a table has not; regret fine-tunes an unconditional
    encoder)."""
    if DEFAULT_METHOD == "complexity" and run.model_config.gaussian_mean == "identity":
        return "nll"
    if DEFAULT_METHOD == "regret" and run.model.is_conditional:
        return "nll"
    return DEFAULT_METHOD


def check_method(method: str) -> str:
    """``method`` if it is one of METHODS, else a one-line ConfigError listing them."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    return method


def _check_vae(run: Any) -> None:
    if not run.model.has_density:
        raise VaelabError(f"{run.run_dir}: anomaly scores need a VAE run (an autoencoder has no likelihood p(x))")


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


# ------------------------------------------------------------------------------------------- methods
def nll_scores(model: torch.nn.Module, x: torch.Tensor, k: int = 1000, *, batch_size: int = 100, seed: int = 0,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
    """-log p(x) in nats for each image of x (N, C, H, W), importance-sampled with k samples: (N,) float64."""
    from vaelab.models.importance import log_likelihood

    if not model.has_density:
        raise VaelabError("anomaly scores need a VAE (an autoencoder has no likelihood p(x))")
    if k < 1:
        raise ConfigError(f"k (importance samples) must be >= 1, got {k}")
    logp = log_likelihood(model, x.to(_device(model)), k=k, batch_size=batch_size, seed=seed, progress=progress)
    return (-logp).double().cpu().numpy()


def is_binary_model(run: Any) -> bool:
    """Whether the run's model reads binary pixels (a Bernoulli likelihood): its inputs are 1-bit images."""
    return run.model_config.likelihood == "bernoulli"


def complexity_term(run: Any, x: torch.Tensor, compressor: str = DEFAULT_COMPRESSOR) -> np.ndarray:
    """L(x) - (D ln 256 for a density on 8-bit levels, else 0): what ``complexity_scores`` subtracts from
    -log p(x), (N,) nats."""
    if run.model_config.gaussian_mean == "identity":
        raise ConfigError("the complexity score compresses images: this run was trained on a table")
    binary = is_binary_model(run)
    return compressed_length(x, binary, compressor) - level_offset(tuple(x.shape[1:]), binary)  # (N,) nats


def complexity_scores(run: Any, x: torch.Tensor, k: int = 1000, *, compressor: str = DEFAULT_COMPRESSOR,
                      nll: np.ndarray | None = None, **nll_options: Any) -> np.ndarray:
    """Serrà et al.'s S(x) = -log P(x) - L(x) in nats (N,) (module docstring); ``nll``: -log p(x) when
    already computed."""
    _check_vae(run)
    check_compressor(compressor)
    term = complexity_term(run, x, compressor)
    if nll is None:
        nll = nll_scores(run.model, x, k, **nll_options)
    return np.asarray(nll, dtype=np.float64) - term


def typical_entropy(run: Any, k: int = 1000, *, limit: int = REFERENCE_LIMIT, seed: int = 0, batch_size: int = 100,
                    valid: torch.Tensor | None = None) -> float:
    """H: the mean -log p(x) over (a seeded random subset of ``limit``) images of the run's valid split (or of
    ``valid``, images (N, C, H, W) of normal data the model was not trained on)."""
    from vaelab.runs.data import load_data

    _check_vae(run)
    if valid is None:
        valid = load_data(run.config).valid  # (N, C, H, W)
    if valid.shape[0] == 0:
        raise VaelabError(f"{run.run_dir}: the valid split is empty: no reference for the typicality score")
    if valid.shape[0] > limit:
        valid = valid[torch.randperm(valid.shape[0], generator=torch.Generator().manual_seed(seed))[:limit]]
    return float(nll_scores(run.model, valid, k, batch_size=batch_size, seed=seed).mean())


def typicality_scores(run: Any, x: torch.Tensor, k: int = 1000, *, batch: int = 1, entropy: float | None = None,
                      nll: np.ndarray | None = None, **nll_options: Any) -> np.ndarray:
    """|mean -log p(x) of each batch of ``batch`` consecutive inputs - H| in nats: (N // batch,) (a remainder of
    fewer than ``batch`` inputs is left out). ``entropy``: H when known (else ``typical_entropy``)."""
    _check_vae(run)
    if batch < 1:
        raise ConfigError(f"typicality's batch size M must be >= 1, got {batch}")
    if nll is None:
        nll = nll_scores(run.model, x, k, **nll_options)
    if entropy is None:
        entropy = typical_entropy(run, k, seed=nll_options.get("seed", 0))
    return typicality_of(np.asarray(nll, dtype=np.float64), entropy, batch)


def typicality_of(nll: np.ndarray, entropy: float, batch: int = 1) -> np.ndarray:
    """|mean of ``nll`` over consecutive groups of ``batch`` - entropy|: (len(nll) // batch,)."""
    n = (nll.shape[0] // batch) * batch
    return np.abs(nll[:n].reshape(-1, batch).mean(1) - entropy)


PIXELS = "pixels"  # --background pixels: the independent-pixel background of the run's training split


def pixel_background(run: Any) -> IndependentPixels:
    """The independent-pixel background of ``run``: per-pixel level distributions of its training split as its model
    sees it (thresholded for a thresholded run), perturbed at the rate a background run's inputs are
    (``vaelab train --background-of``'s default, BACKGROUND_PERTURBATION)."""
    from vaelab.runs.data import load_data

    _check_vae(run)
    if run.model_config.gaussian_mean == "identity":
        raise ConfigError("the pixel background models image pixels in [0, 1]: this run was trained on a table "
                          "(train a background run with vaelab train --background-of instead)")
    train = load_data(run.config).train  # (N, C, H, W)
    return IndependentPixels.fit(train, is_binary_model(run), perturbation=BACKGROUND_PERTURBATION)


def resolve_background(run: Any, background: Any, device: Any = None) -> Any:
    """The ratio's background from what a user gives: "pixels" (``pixel_background``), a run directory (loaded
    onto ``device``, default the run's model's), or a Run / IndependentPixels / None as it is."""
    if background == PIXELS:  # a run directory named pixels: ./pixels
        return pixel_background(run)
    if isinstance(background, (str, Path)):
        from vaelab.runs.run import load

        return load(background, device=device or next(run.model.parameters()).device)
    return background


def check_background(run: Any, background: Any) -> None:
    """A background run must be a VAE of the same inputs as ``run`` (image shape, likelihood), a pixel background
    of its image shape and pixel kind; one line else."""
    if background is None:
        raise ConfigError("the ratio method needs a background: --background RUN, trained with "
                          f"vaelab train --background-of {run.run_dir}, or --background {PIXELS}")
    if isinstance(background, IndependentPixels):
        shape = tuple(run.model_config.image_shape)
        if background.image_shape != shape or background.binary != is_binary_model(run):
            raise ConfigError(f"the pixel background takes {background.image_shape} "
                              f"{'binary' if background.binary else '8-bit'} images, {run.run_dir} takes {shape} "
                              f"{'binary' if is_binary_model(run) else '8-bit'} ones")
        return
    if not background.model.has_density:
        raise VaelabError(f"{background.run_dir}: the background run must be a VAE (it is an autoencoder)")
    mine, theirs = run.model_config, background.model_config
    if tuple(mine.image_shape) != tuple(theirs.image_shape) or mine.likelihood != theirs.likelihood:
        raise ConfigError(f"{background.run_dir}: the background run takes {tuple(theirs.image_shape)} images with a "
                          f"{theirs.likelihood} likelihood, {run.run_dir} takes {tuple(mine.image_shape)} with a "
                          f"{mine.likelihood} likelihood (train it with vaelab train --background-of {run.run_dir})")


def ratio_scores(run: Any, background: Any, x: torch.Tensor, k: int = 1000, *, nll: np.ndarray | None = None,
                 background_nll: np.ndarray | None = None, **nll_options: Any) -> np.ndarray:
    """Ren et al.'s -LLR(x) = -log p(x) + log p_bg(x) in nats (N,); ``background``: a background Run or an
    IndependentPixels (``pixel_background``); ``nll`` / ``background_nll``: the two -log p(x) when already
    computed."""
    _check_vae(run)
    check_background(run, background)
    if nll is None:
        nll = nll_scores(run.model, x, k, **nll_options)
    if background_nll is None and isinstance(background, IndependentPixels):
        background_nll = background.density_nll(x)
    if background_nll is None:
        background_nll = nll_scores(background.model, x, k, **nll_options)
    return np.asarray(nll, dtype=np.float64) - np.asarray(background_nll, dtype=np.float64)


def regret_scores(run: Any, x: torch.Tensor, steps: int = DEFAULT_REGRET_STEPS, *, lr: float = DEFAULT_REGRET_LR,
                  batch_size: int = 16, seed: int = 0, progress: Callable[[int], None] | None = None,
                  **options: Any) -> np.ndarray:
    """Likelihood regret in nats (N,): the ELBO after ``steps`` Adam steps of fine-tuning the encoder on each
    input alone minus the ELBO before (models/regret.py, where ``options`` go)."""
    from vaelab.models.regret import likelihood_regret

    _check_vae(run)
    out = likelihood_regret(run.model, x.to(_device(run.model)), steps, lr=lr, batch_size=batch_size, seed=seed,
                            progress=progress, **options)
    return out.double().numpy()


# ------------------------------------------------------------------------------------------ a scorer
@dataclass
class AnomalyScorer:
    """One method with its options, checked up front (before any slow scoring); ``score(x)`` gives (N,) scores,
    or (N // batch,) for typicality with a batch M > 1. H (typicality) is computed once, on first use."""

    run: Any
    method: str | None = None  # None: default_method(run)
    k: int = 1000
    batch: int = 1  # typicality's M
    background: Any = None  # the ratio's background: a Run or an IndependentPixels
    regret_steps: int = DEFAULT_REGRET_STEPS
    regret_lr: float = DEFAULT_REGRET_LR
    compressor: str = DEFAULT_COMPRESSOR
    seed: int = 0
    batch_size: int = 100  # images per batch of the importance sampler (regret: at most 16 encoder copies)
    entropy: float | None = None  # typicality's H, when known

    def __post_init__(self) -> None:
        _check_vae(self.run)
        self.method = default_method(self.run) if self.method is None else check_method(self.method)
        if self.k < 1:
            raise ConfigError(f"k (importance samples) must be >= 1, got {self.k}")
        if self.batch < 1:
            raise ConfigError(f"--batch (typicality's M) must be >= 1, got {self.batch}")
        if self.batch > 1 and self.method != "typicality":
            raise ConfigError(f"--batch M scores batches of M inputs with --method typicality, not {self.method}")
        if self.background is not None and self.method != "ratio":
            raise ConfigError(f"--background is the ratio method's background model, not {self.method}'s")
        if self.method == "ratio":
            check_background(self.run, self.background)
        if self.method == "complexity":
            check_compressor(self.compressor)
            if self.run.model_config.gaussian_mean == "identity":
                raise ConfigError("the complexity score compresses images: this run was trained on a table")
        if self.method == "regret":
            if self.regret_steps < 1:
                raise ConfigError(f"--regret-steps must be >= 1, got {self.regret_steps}")
            if self.run.model.is_conditional:
                raise ConfigError("likelihood regret is defined here for unconditional models (this one is "
                                  "conditional)")

    @property
    def per_batch(self) -> int:
        """Inputs per score: M for typicality, else 1."""
        return self.batch if self.method == "typicality" else 1

    def describe(self) -> str:
        """One line saying what the score is, in which units, with which settings."""
        k = f"k = {self.k} importance samples"
        if self.method == "nll":
            return f"anomaly score = -log p(x), nats, {k} (higher = less likely)"
        if self.method == "complexity":
            density = "" if is_binary_model(self.run) else " (a density on 8-bit levels: -log p(x) + D ln 256)"
            return (f"anomaly score = -log P(x) - L(x){density}, L = {self.compressor} compressed length, nats, "
                    f"{k} (higher = more anomalous)")
        if self.method == "typicality":
            h = "" if self.entropy is None else f" = {self.entropy:.2f}"
            return (f"anomaly score = |mean -log p(x) of a batch of M = {self.batch} - H|, H{h} the mean -log p(x) of "
                    f"the run's valid split, nats, {k} (higher = more anomalous)")
        if self.method == "ratio":
            if isinstance(self.background, IndependentPixels):
                gray = "" if self.background.binary else ", a density on 8-bit levels"
                bg = (f"background: independent pixels of the run's training split (add-1/2 histograms, perturbed "
                      f"at rate {self.background.perturbation:g}{gray})")
            else:
                bg = f"background run {self.background.run_dir}"
            return f"anomaly score = -log p(x) + log p_bg(x), {bg}, nats, {k} (higher = more anomalous)"
        return (f"anomaly score = likelihood regret: ELBO after {self.regret_steps} Adam steps (lr {self.regret_lr:g}) "
                "on the encoder for each input alone minus before, nats (higher = more anomalous)")

    def reference(self) -> float:
        """Typicality's H (computed on first use)."""
        if self.entropy is None:
            self.entropy = typical_entropy(self.run, self.k, seed=self.seed, batch_size=self.batch_size)
        return self.entropy

    def score(self, x: torch.Tensor, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """The scores of images x (N, C, H, W) as the model sees them; ``progress(n)`` after each batch."""
        opts = dict(batch_size=self.batch_size, seed=self.seed)
        if self.method == "regret":
            return regret_scores(self.run, x, self.regret_steps, lr=self.regret_lr, batch_size=min(16, self.batch_size),
                                 seed=self.seed, progress=progress)
        nll = nll_scores(self.run.model, x, self.k, progress=progress, **opts)
        if self.method == "nll":
            return nll
        if self.method == "complexity":
            return complexity_scores(self.run, x, compressor=self.compressor, nll=nll)
        if self.method == "typicality":
            return typicality_of(nll, self.reference(), self.batch)
        return ratio_scores(self.run, self.background, x, self.k, nll=nll, **opts)
