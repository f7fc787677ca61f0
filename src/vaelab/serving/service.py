"""The model side of the server, free of any web framework: decode, encode, sample, score, the latent map.

``ModelService`` wraps a loaded run. Model calls run one at a time (a lock: the CPU's threads serve one
forward pass better than several competing ones) under ``torch.inference_mode``, and each call's time is
recorded so the server can report decode latency.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from vaelab.data.dataset import Dataset
from vaelab.errors import VaelabError
from vaelab.serving.limits import Limits
from vaelab.runs.run import Run


class NotAvailable(VaelabError):
    """What a request asks for does not exist for this run (HTTP 404), e.g. no test data for the map."""


class NotSupported(VaelabError):
    """The run's model cannot do what is asked (HTTP 400), e.g. a score of an autoencoder."""


class Timings:
    """Durations (ms) of the latest model calls per operation; ``summary`` gives count, p50 and p99."""

    def __init__(self, keep: int = 4096):
        self._lock = threading.Lock()
        self._ms: dict[str, deque[float]] = {}
        self._count: dict[str, int] = {}
        self._keep = keep

    def record(self, op: str, ms: float) -> None:
        with self._lock:
            self._ms.setdefault(op, deque(maxlen=self._keep)).append(ms)
            self._count[op] = self._count.get(op, 0) + 1

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            out = {}
            for op, values in self._ms.items():
                v = np.asarray(values)
                out[op] = {"count": self._count[op], "p50_ms": float(np.percentile(v, 50)),
                           "p99_ms": float(np.percentile(v, 99)), "mean_ms": float(v.mean())}
            return out


@dataclass
class MapData:
    """The latent map of (a seeded subset of) the test split, with the linear maps between z and the plane."""

    coords: np.ndarray  # (N, 2)
    mu: np.ndarray  # (N, D) posterior means
    images: torch.Tensor  # (N, C, H, W) the test images on the map
    test_index: np.ndarray  # (N,) index of each point in the test split
    labels: np.ndarray | None
    class_names: list[str] | None
    colours: list[str]  # hex colour of each label value (one colour when there are no labels)
    method: str
    axis_labels: tuple[str, str]
    mean: np.ndarray  # (D,) z at the plane's origin
    forward: np.ndarray  # (D, 2): plane = (z - mean) @ forward
    inverse: np.ndarray  # (2, D): z = mean + plane @ inverse
    dataset: str


def _hex(rgba: np.ndarray) -> str:
    r, g, b = (int(round(255 * float(v))) for v in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def plane_maps(mu: np.ndarray, coords: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, forward (D, 2), inverse (2, D)) of the linear 2-D view ``latent_map`` made of ``mu`` (N, D).

    ``z``: the identity for D = 2, and z0 -> (z0, 0) for D = 1 (its second axis is jitter). PCA: the
    projection is recovered from the points by least squares (exact: PCA is a linear map of the centred
    means), and its pseudo-inverse puts a point of the plane back into latent space."""
    d = mu.shape[1]
    if method == "z":
        forward = np.eye(d, 2)
        return np.zeros(d), forward, np.linalg.pinv(forward)
    mean = mu.mean(0)
    forward = np.linalg.lstsq(mu - mean, coords - coords.mean(0), rcond=None)[0]  # (D, 2)
    offset = coords.mean(0)  # 0 for PCA; kept so the plane's origin matches the map's
    inverse = np.linalg.pinv(forward)  # (2, D)
    return mean - offset @ inverse, forward, inverse


class ModelService:
    """A run's model behind a lock, with the operations the API offers."""

    def __init__(self, run: Run, limits: Limits | None = None, data: Dataset | Callable[[], Dataset] | None = None,
                 background: Any = None):
        self.run = run
        self.model = run.model
        self.model.eval()
        self.background = background  # the ratio score's background (a Run or the pixel model), when given one
        if background is not None:
            from vaelab.runs.anomaly_scores import check_background

            check_background(run, background)
            if isinstance(background, Run):
                background.model.eval()
        self._entropy: dict[tuple[int, int], float] = {}  # typicality's H per (k, seed)
        self.limits = limits or Limits()
        self.device = next(self.model.parameters()).device
        self._data = data
        self._lock = threading.Lock()
        self._map_lock = threading.Lock()
        self._map: MapData | None = None
        self._map_error: str | None = None
        self.timings = Timings()

    # ------------------------------------------------------------------------------- properties
    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.run.model_config.image_shape)  # type: ignore[return-value]

    @property
    def likelihood(self) -> str:
        return self.run.model_config.likelihood

    @property
    def n_classes(self) -> int:
        """Classes of a conditional model (0: not conditional)."""
        return int(self.model.n_classes)

    def _labels(self, label: int | None, n: int, required: bool = True) -> torch.Tensor | None:
        """The class of a conditional model's request as (n,) labels; one clear refusal where it is missing
        (or given to a model that takes none)."""
        if not self.n_classes:
            if label is not None:
                raise NotSupported("label is only for a conditional model (--condition label); this one is not")
            return None
        if label is None:
            if not required:
                return None
            raise NotSupported(f"this model is conditional: give the class label, 0 to {self.n_classes - 1}")
        return torch.full((n,), int(label), dtype=torch.long, device=self.device)

    @property
    def is_vae(self) -> bool:
        return self.model.has_density

    def info(self) -> dict[str, Any]:
        """What a client needs to know about the model: shapes, likelihood, config, test results, limits."""
        from vaelab import __version__

        cfg = self.run.config
        return {"run": Path(self.run.run_dir).name, "dataset": cfg.dataset, "model": self.run.model_config.kind,
                "latent_dim": self.latent_dim, "image_shape": list(self.image_shape), "likelihood": self.likelihood,
                "binary_input": self.likelihood == "bernoulli", "model_config": self.run.model_config.to_dict(),
                "results": _finite(self.run.results) if self.run.results else None,
                "epochs_trained": len(self.run.metrics), "limits": self.limits.to_dict(),
                "score_k": self.limits.default_k, "device": str(self.device), "version": __version__,
                "n_classes": self.n_classes, "class_names": self.run.data_info.get("class_names") if self.n_classes
                else None, "score_methods": list(self.score_methods) if self.is_vae else [],
                "default_score_method": self.default_score_method if self.is_vae else None}

    @property
    def score_methods(self) -> tuple[str, ...]:
        """The anomaly scores this server offers: every method, but the ratio only with a background run, regret
        only for an unconditional model, complexity only for images (not a table)."""
        from vaelab.runs.anomaly_config import METHODS

        table = self.run.model_config.gaussian_mean == "identity"
        return tuple(m for m in METHODS if (m != "ratio" or self.background is not None)
                     and (m != "regret" or not self.n_classes) and (m != "complexity" or not table))

    @property
    def default_score_method(self) -> str:
        from vaelab.runs.anomaly_scores import default_method

        return default_method(self.run)

    # ------------------------------------------------------------------------------ model calls
    def _timed(self, op: str, fn: Callable[[], Any]) -> tuple[Any, float]:
        with self._lock, torch.inference_mode():
            t0 = time.perf_counter()
            out = fn()
            ms = 1000 * (time.perf_counter() - t0)
        self.timings.record(op, ms)
        return out, ms

    def decode(self, z: np.ndarray, label: int | None = None) -> tuple[torch.Tensor, float]:
        """Decoder means (B, C, H, W) on the CPU for latents z (B, D) (of class ``label`` for a conditional
        model), and the model time in ms."""
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32), device=self.device)
        y = self._labels(label, zt.shape[0])
        return self._timed("decode", lambda: self.model.decode(zt, y).float().cpu())

    def encode(self, x: torch.Tensor, label: int | None = None) -> tuple[np.ndarray, np.ndarray | None, float]:
        """Posterior means E_q[z|x] (B, D) of images x (B, C, H, W), and log variances where q is one diagonal
        Gaussian (None for an autoencoder, a flow or two layers, whose spread is not one vector)."""
        y = self._labels(label, x.shape[0])
        gen = torch.Generator(device=self.device).manual_seed(0)

        def run() -> tuple[torch.Tensor, torch.Tensor | None]:
            from vaelab.models.posteriors import DiagonalGaussian

            q = self.model.encode(x.to(self.device), y)  # one encoder pass for the mean and the log-variance
            return self.model.mean_of(q, generator=gen), q.logvar if isinstance(q, DiagonalGaussian) else None

        (mu, logvar), ms = self._timed("encode", run)
        return mu.double().cpu().numpy(), None if logvar is None else logvar.double().cpu().numpy(), ms

    def sample(self, n: int, seed: int | None = None, temperature: float = 1.0,
               mean: bool = True, label: int | None = None) -> tuple[torch.Tensor, np.ndarray, int, float]:
        """``model.sample`` with a seeded generator: images (n, C, H, W), the z it drew (n, D), seed, ms."""
        seed = secrets.randbelow(2 ** 31) if seed is None else int(seed)
        gen = torch.Generator(device=self.device).manual_seed(seed)

        y = self._labels(label, n)

        def draw() -> tuple[torch.Tensor, torch.Tensor]:
            z = self.model.sample_latents(n, temperature, gen)  # (n, D) from the prior
            if mean:
                return self.model.decode(z, y).float().cpu(), z
            x = self.model.decoder_distribution(z, y).sample().clamp(0, 1)
            return x.reshape(n, *self.image_shape).float().cpu(), z

        (images, z), ms = self._timed("sample", draw)
        return images, z.double().cpu().numpy(), seed, ms

    def score(self, x: torch.Tensor, k: int, seed: int = 0, label: int | None = None,
              method: str = "nll") -> tuple[np.ndarray, np.ndarray | None, float]:
        """The anomaly scores (B,) in nats of images x (B, C, H, W) by ``method`` (vaelab.runs.anomaly_scores), the
        importance-sampled -log p(x) (B,) they were made from (None for regret), and ms."""
        from vaelab.models.importance import log_likelihood
        from vaelab.runs import anomaly_scores as scores

        if not self.is_vae:
            raise NotSupported("this run is an autoencoder (model 'ae'), which defines no density p(x): "
                               "scores need a VAE run")
        if method not in self.score_methods:
            why = ("the server has no background (vaelab serve RUN --background BG, or --background pixels)"
                   if method == "ratio"
                   else "a conditional model's encoder takes the label" if method == "regret" else "unknown method")
            raise NotSupported(f"method {method!r} is not offered here: {why}; offered: "
                               f"{', '.join(self.score_methods)}")
        if label is not None and method != "nll":
            raise NotSupported("a label scores log p(x|y): it goes with method nll")
        y = self._labels(label, x.shape[0], required=False)  # no label: log p(x) = log mean_y p(x|y)
        entropy = self._typical_entropy(k, seed) if method == "typicality" else None
        xd = x.to(self.device)

        def score() -> tuple[np.ndarray, np.ndarray | None]:
            if method == "regret":
                return scores.regret_scores(self.run, xd, seed=seed, batch_size=self.limits.max_regret_images), None
            nll = (-log_likelihood(self.model, xd, k=k, seed=seed, batch_size=min(100, x.shape[0]), y=y)
                   ).double().cpu().numpy()
            if method == "complexity":
                return scores.complexity_scores(self.run, x, nll=nll), nll
            if method == "typicality":
                return scores.typicality_of(nll, entropy), nll
            if method == "ratio":
                return scores.ratio_scores(self.run, self.background, xd, k, nll=nll, seed=seed,
                                           batch_size=min(100, x.shape[0])), nll
            return nll, nll

        if method == "regret":  # fine-tuning needs gradients: outside inference mode
            with self._lock:
                t0 = time.perf_counter()
                out = score()
                ms = 1000 * (time.perf_counter() - t0)
            self.timings.record("score", ms)
        else:
            out, ms = self._timed("score", score)
        return out[0], out[1], ms

    def _typical_entropy(self, k: int, seed: int) -> float:
        """Typicality's H for (k, seed), computed on first use from the run's valid split (NotAvailable when the
        run's data cannot be loaded)."""
        from vaelab.runs.anomaly_scores import typical_entropy

        if (k, seed) not in self._entropy:
            try:
                valid = self._dataset().valid
                with self._lock:
                    self._entropy[(k, seed)] = typical_entropy(self.run, k, seed=seed, valid=valid)
            except VaelabError as exc:
                raise NotAvailable(f"typicality needs the run's valid split for H: {exc}") from None
        return self._entropy[(k, seed)]

    # --------------------------------------------------------------------------------- the map
    def _dataset(self) -> Dataset:
        if isinstance(self._data, Dataset):
            return self._data
        if callable(self._data):
            return self._data()
        from vaelab.runs.data import load_data

        return load_data(self.run.config)

    def latent_map(self) -> MapData:
        """The test-set latent map (computed once; NotAvailable when the run's test data cannot be loaded)."""
        with self._map_lock:
            if self._map is None and self._map_error is None:
                try:
                    self._map = self._compute_map()
                except VaelabError as exc:
                    self._map_error = str(exc)
                except Exception as exc:  # the map is optional: the rest of the API works without it
                    self._map_error = f"{type(exc).__name__}: {exc}"
            if self._map is None:
                raise NotAvailable(f"no latent map: the run's test data could not be loaded ({self._map_error})")
            return self._map

    def _compute_map(self) -> MapData:
        from vaelab.data.splits import pick
        from vaelab.models.batched import posterior_means
        from vaelab.utils.latent_plane import colour_table, latent_map_of, point_colours

        data = self._dataset()
        x, labels = data.test, data.test_labels
        if x.shape[0] == 0:
            raise VaelabError("the test split is empty")
        if tuple(x.shape[1:]) != self.image_shape:
            raise VaelabError(f"test images are {tuple(x.shape[1:])}, the model takes {self.image_shape}")
        idx = torch.arange(x.shape[0])
        if x.shape[0] > self.limits.map_points:
            idx = pick(x.shape[0], self.limits.map_points, seed=0)
            x, labels = x[idx], (None if labels is None else labels[idx])
        with self._lock, torch.inference_mode():
            cond = None if not self.n_classes or labels is None else labels.to(self.device)
            mu = posterior_means(self.model, x, y=cond).double().numpy()  # (N, D)
        lmap = latent_map_of(mu, None if labels is None else labels.numpy(), data.class_names)
        mean, forward, inverse = plane_maps(mu, lmap.coords, lmap.method)
        colours = ([_hex(c) for c in colour_table(lmap)] if lmap.labels is not None
                   else [_hex(point_colours(lmap)[0])])
        return MapData(coords=lmap.coords, mu=mu, images=x.cpu(), test_index=idx.numpy(), labels=lmap.labels,
                       class_names=lmap.class_names, colours=colours, method=lmap.method,
                       axis_labels=tuple(lmap.axis_labels), mean=mean, forward=forward, inverse=inverse,
                       dataset=data.name)

    def project(self, z: np.ndarray) -> np.ndarray | None:
        """Map coordinates (B, 2) of latents z (B, D), or None when there is no map."""
        try:
            m = self.latent_map()
        except NotAvailable:
            return None
        return (np.asarray(z, dtype=np.float64) - m.mean) @ m.forward


def _finite(doc: Any) -> Any:
    """A JSON-able copy of ``doc`` with non-finite floats replaced by None."""
    if isinstance(doc, dict):
        return {k: _finite(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_finite(v) for v in doc]
    if isinstance(doc, float) and not np.isfinite(doc):
        return None
    return doc
