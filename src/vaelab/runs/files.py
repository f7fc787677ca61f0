"""A run directory's files: names, config.json (a public format, read back from every older version) and
metrics.jsonl.

Layout: config.json (format, data, model, training settings), model.safetensors (best weights),
last.safetensors (resume state), metrics.jsonl (one line per epoch), results.json (test metrics).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vaelab.errors import VaelabError
from vaelab.models.config import ModelConfig
from vaelab.runs.config import TrainConfig
from vaelab.utils.atomic import write_json_atomic, write_text_atomic

CONFIG = "config.json"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
FORMAT = 2  # 1: vaelab 0.1, model fields flat in "train"; 2: the model nested in "train"


def read_config(run_dir: Path) -> tuple[TrainConfig, ModelConfig, dict[str, Any]]:
    """(training config, the built model's config, data info) from RUN/config.json, of any format."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise VaelabError(f"{path}: not found (expected a run directory written by vaelab train)")
    try:
        doc = json.loads(path.read_text())
        train = dict(doc["train"])
        train.setdefault("ema_decay", 0.0)  # runs written before weight averaging existed trained without it
        return TrainConfig.from_dict(train), ModelConfig.from_dict(doc["model"]), doc.get("data", {})
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise VaelabError(f"{path}: not a vaelab config ({type(exc).__name__}: {exc}); "
                          "expected JSON with 'train' and 'model' sections") from None


def write_config(run_dir: Path, config: TrainConfig, model_config: ModelConfig, data: dict[str, Any]) -> None:
    """RUN/config.json: the training config as given (``train``, the model nested as requested) and the
    model as built (``model``: its image shape and likelihood resolved from the data)."""
    from vaelab import __version__

    doc = {"vaelab_version": __version__, "format": FORMAT, "train": config.to_dict(),
           "model": model_config.to_dict(), "data": data}
    write_json_atomic(Path(run_dir) / CONFIG, doc)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch records of RUN/metrics.jsonl (empty if the run has not finished an epoch)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    write_text_atomic(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in records))


def read_results(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / RESULTS
    return json.loads(path.read_text()) if path.is_file() else None
