"""The ROC figure of an anomaly evaluation: the curve, the calibrated operating point, and the two score
histograms (what `vaelab anomaly-eval` writes as roc.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vaelab.visualisation.canvas import figure_png, new_figure, save_bytes


def roc_figure(result: Any, title: str | None = None, normal_scores: np.ndarray | None = None,
               anomalous_scores: np.ndarray | None = None) -> Any:
    """ROC curve with the calibrated operating point; with the scores, a histogram of both sets beside it."""
    hist = normal_scores is not None and anomalous_scores is not None
    fig = new_figure(11 if hist else 5.6, 4.8)
    ax = fig.add_subplot(1, 2 if hist else 1, 1)
    ax.plot(result.roc_fpr, result.roc_tpr, color="C0", lw=2,
            label=f"ROC, AUC {result.auroc:.3f} (AP {result.average_precision:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="0.5", label="chance")
    ax.plot([result.test_fpr], [result.test_tpr], "o", color="C3",
            label=f"threshold {result.threshold:.1f} (target FPR {result.fpr_target:g})")
    ax.set_xlabel("false-positive rate (normal flagged)")
    ax.set_ylabel("true-positive rate (anomalous flagged)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    method = getattr(result, "method", "nll")
    ax.set_title(title or f"score: {method}", fontsize=9)
    if hist:
        ax2 = fig.add_subplot(1, 2, 2)
        both = np.concatenate([normal_scores, anomalous_scores])
        lo, hi = np.percentile(both, [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 50)
        ax2.hist(np.clip(normal_scores, lo, hi), bins=bins, alpha=0.6, color="C0", label="normal", density=True)
        ax2.hist(np.clip(anomalous_scores, lo, hi), bins=bins, alpha=0.6, color="C1", label="anomalous", density=True)
        ax2.axvline(result.threshold, color="C3", ls="--", label="threshold")
        what = "-log p(x)" if method == "nll" else f"{method} score"
        ax2.set_xlabel(f"{what}, nats (clipped to the 0.5-99.5% range)")
        ax2.set_ylabel("density")
        ax2.legend(fontsize=8)
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_roc(path: str | Path, result: Any, normal_scores: np.ndarray, anomalous_scores: np.ndarray,
             title: str | None = None) -> Path:
    """Write the ROC figure of ``result`` (an AnomalyEvaluation) as PNG, atomically; returns the path."""
    save_bytes(figure_png(roc_figure(result, title, normal_scores, anomalous_scores)), Path(path))
    return Path(path)
