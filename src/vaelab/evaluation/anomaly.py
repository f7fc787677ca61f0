"""Anomaly detection with a VAE: score inputs (one of the methods of vaelab.runs.anomaly_scores: -log p(x),
input complexity, typicality, a likelihood ratio, likelihood regret; higher = more anomalous), and measure how
well a score separates a normal set from an anomalous one.

``detection_metrics`` gives ROC-AUC and average precision (anomalous = positive class), and
``calibrate_threshold`` picks the threshold that flags a chosen fraction of normal (validation) data. INPUT
specs are loaded and preprocessed as the run's training data was (thresholded for a thresholded run).
Caveat (Nalisnick et al. 2019): a likelihood can rank some out-of-distribution data as *more* likely than
the training data (a blank image under a digit model); the other methods correct for that (docs/anomaly.md).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from vaelab.errors import ConfigError
from vaelab.runs.anomaly_scores import AnomalyScorer, nll_scores
from vaelab.utils.atomic import write_json_atomic, write_text_atomic


def anomaly_scores(model: torch.nn.Module, x: torch.Tensor, k: int = 1000, *, batch_size: int = 100, seed: int = 0,
                   progress: Callable[[int], None] | None = None) -> np.ndarray:
    """-log p(x) in nats for each image of x (N, C, H, W), importance-sampled with k samples: (N,) float64 (the
    ``nll`` method; vaelab.runs.anomaly_scores has the others)."""
    return nll_scores(model, x, k, batch_size=batch_size, seed=seed, progress=progress)


def calibrate_threshold(normal_scores: np.ndarray, fpr: float) -> float:
    """The threshold t for which the rule 'score > t' flags the largest fraction of ``normal_scores`` that does not
    exceed ``fpr``: the (n - floor(fpr * n))-th smallest score (ties may flag fewer)."""
    s = np.sort(np.asarray(normal_scores, dtype=np.float64))
    if s.size == 0:
        raise ConfigError("no normal scores to calibrate a threshold on")
    if not 0 <= fpr <= 1:
        raise ConfigError(f"false-positive rate must be in [0, 1], got {fpr}")
    flagged = int(np.floor(fpr * s.size + 1e-9))
    return float(s[s.size - flagged - 1]) if flagged < s.size else float("-inf")


def rates_at(threshold: float, normal_scores: np.ndarray, anomalous_scores: np.ndarray) -> tuple[float, float]:
    """(false-positive rate, true-positive rate) of the rule 'score > threshold' is anomalous."""
    normal, anomalous = np.asarray(normal_scores), np.asarray(anomalous_scores)
    return float(np.mean(normal > threshold)), float(np.mean(anomalous > threshold))


def detection_metrics(normal_scores: np.ndarray, anomalous_scores: np.ndarray) -> dict[str, Any]:
    """ROC-AUC, average precision and the ROC curve of the score, anomalous = positive class."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    normal, anomalous = np.asarray(normal_scores, float), np.asarray(anomalous_scores, float)
    if normal.size == 0 or anomalous.size == 0:
        raise ConfigError(f"need scores of both sets (got {normal.size} normal and {anomalous.size} anomalous)")
    y = np.concatenate([np.zeros(normal.size), np.ones(anomalous.size)])
    s = np.concatenate([normal, anomalous])
    fpr, tpr, thr = roc_curve(y, s)
    return {"auroc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s)),
            "n_normal": int(normal.size), "n_anomalous": int(anomalous.size),
            "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(), "roc_thresholds": thr.tolist()}


@dataclass
class ScoredSet:
    """The scores of one INPUT spec: one per image, or one per batch of M images (typicality with M > 1)."""

    spec: str
    names: list[str]
    scores: np.ndarray  # (N,) nats, higher = more anomalous
    method: str = "nll"

    def summary(self) -> dict[str, float]:
        s = self.scores
        return {"n": int(s.size), "mean": float(s.mean()), "median": float(np.median(s)), "min": float(s.min()),
                "max": float(s.max())}


def scores_csv(sets: Sequence[ScoredSet], group: Sequence[str] | None = None) -> str:
    """CSV text: one row per image (or batch): input spec, its name, the score (for ``nll``: score_neg_log_px
    and log_px; else score_METHOD) [, group]."""
    buf = io.StringIO()
    w = csv.writer(buf)
    method = sets[0].method if sets else "nll"
    columns = ["score_neg_log_px", "log_px"] if method == "nll" else [f"score_{method}"]
    w.writerow(["input", "name", *columns] + (["set"] if group else []))
    for i, s in enumerate(sets):
        for name, v in zip(s.names, s.scores):
            values = [f"{v:.4f}", f"{-v:.4f}"] if method == "nll" else [f"{v:.4f}"]
            w.writerow([s.spec, name, *values] + ([group[i]] if group else []))
    return buf.getvalue()


def write_scores_csv(path: str | Path, sets: Sequence[ScoredSet], group: Sequence[str] | None = None) -> Path:
    write_text_atomic(path, scores_csv(sets, group))
    return Path(path)


@dataclass
class AnomalyEvaluation:
    """The outcome of scoring a normal and an anomalous set (and a calibration set for the threshold)."""

    auroc: float
    average_precision: float
    n_normal: int
    n_anomalous: int
    k: int
    method: str  # the score (vaelab.runs.anomaly_scores)
    score: str  # what the score is, in words, with its settings
    per_batch: int  # inputs per score: typicality's M, else 1
    fpr_target: float
    threshold: float  # score > threshold is flagged anomalous
    calibration: str  # the INPUT spec the threshold was calibrated on
    calibration_fpr: float  # the fraction of the calibration set flagged
    test_fpr: float  # fraction of the normal set flagged at the threshold
    test_tpr: float  # fraction of the anomalous set flagged at the threshold
    normal: list[str] = field(default_factory=list)
    anomalous: list[str] = field(default_factory=list)
    roc_fpr: list[float] = field(default_factory=list)
    roc_tpr: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        unit = f" batches of {self.per_batch}" if self.per_batch > 1 else ""
        return [self.score,
                f"ROC-AUC {self.auroc:.4f}   average precision {self.average_precision:.4f}   "
                f"({self.n_normal} normal, {self.n_anomalous} anomalous{unit}; method {self.method})",
                f"threshold {self.threshold:.2f} nats (flags {100 * self.calibration_fpr:.1f}% of {self.calibration}, "
                f"target false-positive rate {100 * self.fpr_target:g}%): flags {100 * self.test_fpr:.1f}% of the "
                f"normal set and {100 * self.test_tpr:.1f}% of the anomalous set"]


def evaluate_scores(normal: Sequence[ScoredSet], anomalous: Sequence[ScoredSet], calibration: ScoredSet,
                    fpr: float, k: int, method: str = "nll", score: str = "", per_batch: int = 1
                    ) -> AnomalyEvaluation:
    """Detection metrics and the calibrated operating point from already computed scores."""
    n = np.concatenate([s.scores for s in normal])
    a = np.concatenate([s.scores for s in anomalous])
    m = detection_metrics(n, a)
    t = calibrate_threshold(calibration.scores, fpr)
    test_fpr, test_tpr = rates_at(t, n, a)
    return AnomalyEvaluation(
        auroc=m["auroc"], average_precision=m["average_precision"], n_normal=m["n_normal"],
        n_anomalous=m["n_anomalous"], k=k, method=method, score=score, per_batch=per_batch,
        fpr_target=fpr, threshold=t, calibration=calibration.spec,
        calibration_fpr=float(np.mean(calibration.scores > t)), test_fpr=test_fpr, test_tpr=test_tpr,
        normal=[s.spec for s in normal], anomalous=[s.spec for s in anomalous],
        roc_fpr=m["roc_fpr"], roc_tpr=m["roc_tpr"])


def save_evaluation(out_dir: str | Path, result: AnomalyEvaluation, normal: Sequence[ScoredSet],
                    anomalous: Sequence[ScoredSet], calibration: ScoredSet) -> dict[str, Path]:
    """Write OUT/anomaly.json and OUT/scores.csv (atomically); returns their paths. (The ROC figure is
    vaelab.visualisation.roc's.)"""
    out = Path(out_dir)
    paths = {"json": out / "anomaly.json", "csv": out / "scores.csv"}
    doc = result.to_dict()
    doc["normal_summary"] = [dict(spec=s.spec, **s.summary()) for s in normal]
    doc["anomalous_summary"] = [dict(spec=s.spec, **s.summary()) for s in anomalous]
    write_json_atomic(paths["json"], json.loads(json.dumps(doc)))
    sets = [*normal, *anomalous, calibration]
    groups = ["normal"] * len(normal) + ["anomalous"] * len(anomalous) + ["calibration"]
    write_scores_csv(paths["csv"], sets, groups)
    return paths


# ------------------------------------------------------------------------------------- on a run
def run_inputs_loader(run: Any, data_dir: str | Path | None = None) -> Callable[[str], Any]:
    """``load(spec) -> Inputs`` for a run: its own data set name loads with the run's options (cached); other
    named sets under ``data_dir`` (default: the run's data root)."""
    from functools import lru_cache

    from vaelab.data.inputs import load_inputs
    from vaelab.data.tables import table_scaling
    from vaelab.runs.data import load_data

    own = lru_cache(maxsize=1)(lambda: load_data(run.config))
    root = data_dir if data_dir is not None else run.config.data_dir
    table = table_scaling(run.data_info)  # a run on a table: new rows get the run's scaling
    return lambda spec: load_inputs(spec, data_dir=root, datasets={run.config.dataset: own}, table=table)


def run_binarization(run: Any) -> str:
    """How the run's training data were binarized (none, threshold or dynamic): what new inputs get too."""
    return run.config.binarize or "none"


def prepare_specs(run: Any, specs: Sequence[str], *, resize: bool = False, binarize: str | None = None,
                  limit: int | None = None, seed: int = 0, loader: Callable[[str], Any] | None = None
                  ) -> list[tuple[str, list[str], torch.Tensor]]:
    """(spec, names, images fitted to the model) for each INPUT spec; ``limit`` keeps a seeded random subset of
    each. ``binarize`` None: as the run's training data were (``run_binarization``). Inputs that do not fit
    the model raise a DataError here, before any (slow) scoring."""
    from vaelab.data.inputs import fit_inputs
    from vaelab.errors import VaelabError

    if not run.model.has_density:
        raise VaelabError(f"{run.run_dir}: anomaly scores need a VAE run (an autoencoder has no likelihood p(x))")
    load = loader or run_inputs_loader(run)
    mode = run_binarization(run) if binarize is None else binarize
    prepared = []
    for spec in specs:
        inputs = load(spec)
        if limit is not None and limit < len(inputs):
            inputs = inputs.subset(torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed))[:limit])
        x = fit_inputs(inputs, run.model_config.image_shape, run.model_config.likelihood, resize=resize,
                       binarize=mode, table=run.model_config.gaussian_mean == "identity")
        prepared.append((spec, inputs.names, x))
    return prepared


def _batched(names: list[str], x: torch.Tensor, m: int, seed: int) -> tuple[list[str], torch.Tensor]:
    """The images in a seeded random order, cut to a multiple of m, and one name per batch of m."""
    if m == 1:
        return names, x
    if x.shape[0] < m:
        raise ConfigError(f"a batch of M = {m} needs at least {m} images per input, got {x.shape[0]}")
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[: (x.shape[0] // m) * m]
    picked = [names[i] for i in order.tolist()]
    return [f"batch {j} ({picked[j * m]} ... {picked[j * m + m - 1]})" for j in range(len(picked) // m)], x[order]


def score_prepared(scorer: AnomalyScorer, prepared: Sequence[tuple[str, list[str], torch.Tensor]],
                   progress: Callable[[str, int, int], None] | None = None) -> list[ScoredSet]:
    """Score prepared inputs; ``progress(spec, done, total)`` after each batch. Typicality with M > 1 scores
    batches of M images drawn in a seeded random order from each input (a remainder is left out)."""
    out = []
    for spec, names, x in prepared:
        names, x = _batched(names, x, scorer.per_batch, scorer.seed)
        cb = (lambda done, spec=spec, total=x.shape[0]: progress(spec, done, total)) if progress else None
        out.append(ScoredSet(spec, names, scorer.score(x, progress=cb), scorer.method))
    return out


def make_scorer(run: Any, method: str | None = None, k: int = 1000, **options: Any) -> AnomalyScorer:
    """An AnomalyScorer for ``run`` (``method`` None: the default, vaelab.runs.anomaly_scores.default_method);
    ``options``: batch, background (a Run, a run directory, or "pixels": the run's independent-pixel background),
    regret_steps, regret_lr, compressor, seed, batch_size (see AnomalyScorer)."""
    from vaelab.runs.anomaly_scores import PIXELS, resolve_background

    background = options.pop("background", None)
    if background != PIXELS or method == "ratio":  # (a pixel background for another method: refused below)
        background = resolve_background(run, background)
    return AnomalyScorer(run, method, k, background=background, **options)


def score_specs(run: Any, specs: Sequence[str], k: int = 1000, *, method: str | None = None, resize: bool = False,
                binarize: str | None = None, limit: int | None = None, seed: int = 0, batch_size: int = 100,
                progress: Callable[[str, int, int], None] | None = None, data_dir: str | Path | None = None,
                **options: Any) -> list[ScoredSet]:
    """Score every INPUT spec (see vaelab.data.inputs) with a run's model and ``method``; ``options`` as
    ``make_scorer``'s (the method's own settings)."""
    scorer = make_scorer(run, method, k, seed=seed, batch_size=batch_size, **options)
    prepared = prepare_specs(run, specs, resize=resize, binarize=binarize, limit=limit, seed=seed,
                             loader=run_inputs_loader(run, data_dir))
    return score_prepared(scorer, prepared, progress)


def evaluate_detection(run: Any, normal: Sequence[str], anomalous: Sequence[str], *, method: str | None = None,
                       calibration: str | None = None, k: int = 1000, fpr: float = 0.05, resize: bool = False,
                       binarize: str | None = None, limit: int | None = None, calibration_limit: int | None = 1000,
                       seed: int = 0, batch_size: int = 100, progress: Callable[[str, int, int], None] | None = None,
                       data_dir: str | Path | None = None, **options: Any
                       ) -> tuple[AnomalyEvaluation, list[ScoredSet], list[ScoredSet], ScoredSet]:
    """Score the normal and anomalous INPUT specs and the calibration set (default: the run's valid split) with
    ``method`` and return the evaluation with the scored sets; ``options`` as ``make_scorer``'s."""
    if not normal or not anomalous:
        raise ConfigError("need at least one normal and one anomalous input (--normal ... --anomalous ...)")
    scorer = make_scorer(run, method, k, seed=seed, batch_size=batch_size, **options)
    loader = run_inputs_loader(run, data_dir)
    calibration = calibration or f"{run.config.dataset}:valid"
    opts = dict(resize=resize, binarize=binarize, seed=seed, loader=loader)
    cal_p = prepare_specs(run, [calibration], limit=calibration_limit, **opts)
    n_p = prepare_specs(run, normal, limit=limit, **opts)
    a_p = prepare_specs(run, anomalous, limit=limit, **opts)
    cal = score_prepared(scorer, cal_p, progress)[0]
    n = score_prepared(scorer, n_p, progress)
    a = score_prepared(scorer, a_p, progress)
    result = evaluate_scores(n, a, cal, fpr, k, method=scorer.method, score=scorer.describe(),
                             per_batch=scorer.per_batch)
    return result, n, a, cal
