"""Evaluation of a run: the numbers papers report (eval), active units, gradient variance, anomaly scores."""

from vaelab.evaluation.latent_stats import posterior_stats
from vaelab.evaluation.run_eval import evaluate_run

__all__ = ["posterior_stats", "evaluate_run"]
