"""The anomaly-score methods' names and defaults, torch-free: the commands build their options from these
without importing torch (the methods themselves are in runs/anomaly_scores.py)."""

from __future__ import annotations

METHODS = {
    "nll": "-log p(x)",
    "complexity": "-log P(x) - L(x), the model's code length minus a compressor's (Serra et al. 2020)",
    "typicality": "|mean -log p(x) of a batch of M - H|, H the valid split's mean (Nalisnick et al. 2019)",
    "ratio": "-log p(x) + log p_bg(x), against a background model of perturbed inputs (Ren et al. 2019)",
    "regret": "the ELBO after fine-tuning the encoder on the input minus before (Xiao et al. 2020)",
}
DEFAULT_METHOD = "complexity"  # one method for every input; why: docs/anomaly.md, "How the default was chosen"
# the same names as vaelab.data.complexity.COMPRESSORS (a test checks)
COMPRESSORS = ("tiff", "png", "webp", "jpeg2000", "zlib", "bz2", "lzma")
DEFAULT_COMPRESSOR = "png"  # Serra et al.'s compressor; TIFF, the valid-split rule's pick, fails blank images
DEFAULT_REGRET_STEPS = 20  # Adam steps of regret's fine-tuning, chosen on the valid split (docs/anomaly.md)
DEFAULT_REGRET_LR = 1e-4
REFERENCE_LIMIT = 1000  # valid images that estimate typicality's H
