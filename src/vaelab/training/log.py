"""What training prints: a header, a progress bar per epoch, one line per epoch and the test result."""

from __future__ import annotations

from typing import Any

from vaelab.utils.progress import ProgressBar, print_line


class TrainingLog:
    """Bars and lines on rank 0; ``quiet`` keeps only the lines (for logs); ``silent`` prints nothing."""

    def __init__(self, quiet: bool, silent: bool = False):
        self.quiet, self.silent = quiet, silent

    def line(self, text: str) -> None:
        if not self.silent:
            print_line(text, self.quiet)

    def bar(self, total: int, desc: str) -> ProgressBar:
        return ProgressBar(total, desc, unit="step", quiet=self.quiet or self.silent)


def epoch_line(r: dict[str, Any], epochs: int) -> str:
    """One epoch's record as a line: train/valid bound and terms, time, examples per second, * if best."""
    if "valid_elbo" in r:
        train_iwae = f"train IWAE {r['train_iwae']:.2f}  " if "train_iwae" in r else ""
        body = (f"{train_iwae}train ELBO {r['train_elbo']:.2f}  valid ELBO {r['valid_elbo']:.2f} "
                f"(rec {r['valid_reconstruction']:.2f}, KL {r['valid_kl']:.2f})")
        if "valid_iwae" in r:
            body += f"  valid IWAE {r['valid_iwae']:.2f}"
        if "valid_elbo_raw_weights" in r:
            body += f" [averaged weights; raw {r['valid_elbo_raw_weights']:.2f}]"
    else:
        body = (f"train log p(x|z) {r['train_reconstruction']:.2f}  "
                f"valid log p(x|z) {r['valid_reconstruction']:.2f}")
    star = " *" if r["best"] else ""
    return (f"epoch {r['epoch']:>3}/{epochs}  {body} nats  {r['seconds']:.1f}s "
            f"({r['examples_per_second']:.0f} ex/s){star}")


def results_line(r: dict[str, Any]) -> str:
    """The best model's test result as a line."""
    if "elbo" in r:
        return (f"test ELBO {r['elbo']:.2f} ± {r['elbo_stderr']:.2f} nats per example "
                f"(reconstruction {r['reconstruction']:.2f}, KL {r['kl']:.2f}), best epoch {r['best_epoch']}")
    return (f"test reconstruction log p(x|z) {r['reconstruction']:.2f} nats per example "
            f"(autoencoder: no ELBO), best epoch {r['best_epoch']}")
