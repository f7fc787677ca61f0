"""Evaluation: ELBO and reconstruction metrics over whole splits, batched."""

from vaelab.evaluation.elbo import evaluate

__all__ = ["evaluate"]
