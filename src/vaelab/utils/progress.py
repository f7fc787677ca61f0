"""The one progress bar every command uses: a tqdm bar on stderr, or nothing when quiet."""

from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """A bar of ``total`` units; ``update(done, postfix)`` moves it to ``done`` (absolute, not a step).

    ``quiet`` draws nothing (for logs and pipes); the bar disappears when closed."""

    def __init__(self, total: int, desc: str, unit: str = "it", quiet: bool = False):
        self.done = 0
        self.bar: Any = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(self, done: int, postfix: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
            if postfix:
                self.bar.set_postfix({k: f"{v:.1f}" for k, v in postfix.items()}, refresh=False)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def print_line(text: str, quiet: bool) -> None:
    """One log line: to stdout when ``quiet`` (logs), else above any bars on stderr."""
    if quiet:
        print(text, flush=True)
    else:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stderr)
