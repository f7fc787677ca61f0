"""Evaluation: ELBO, importance-sampled log-likelihood (IWAE bound), active units, gradient variance."""

from vaelab.evaluation.elbo import evaluate
from vaelab.evaluation.latent_stats import posterior_stats
from vaelab.evaluation.likelihood import log_likelihood, log_weights
from vaelab.evaluation.run_eval import evaluate_run

__all__ = ["evaluate", "log_likelihood", "log_weights", "posterior_stats", "evaluate_run"]
