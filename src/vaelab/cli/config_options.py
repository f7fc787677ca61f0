"""``vaelab train``'s options, generated from the fields of TrainConfig and its nested ModelConfig.

Each field's metadata (help, choices, an option name) is the option's: adding a config field is one edit.
Options default to None (shown defaults come from the dataclasses) so that only options actually given
override a ``--config`` file. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, fields
from typing import Any

from vaelab.cli.options import int_list
from vaelab.models.config import ModelConfig
from vaelab.runs.config import TrainConfig

NESTED = "model."  # dest prefix of the nested model config's options


def size_pair(text: str) -> tuple[int, int]:
    """'28x20' -> (28, 20)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH like 28x28, got {text!r}") from None
    return h, w


def _parse_type(annotation: str) -> Any:
    """The argparse type of a field from its annotation (a string under postponed evaluation)."""
    if annotation.startswith("tuple[int, ...]"):
        return int_list
    if annotation.startswith("tuple[int, int]"):
        return size_pair
    if annotation.startswith("int"):
        return int
    if annotation.startswith("float"):
        return float
    return str


def _shown_default(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def _add_field(parser: argparse.ArgumentParser, f: Field, dest: str) -> None:
    meta = f.metadata
    flag = meta.get("flag") or "--" + f.name.replace("_", "-")
    help_text = meta.get("help", "")
    shown = _shown_default(f.default if f.default is not MISSING else None)
    if shown is not None and "default" not in help_text:
        help_text = f"{help_text} (default {shown})"
    annotation = str(f.type)
    if annotation.startswith("bool"):
        if flag.startswith("--no-"):  # a True default turned off by --no-NAME
            parser.add_argument(flag, dest=dest, action="store_const", const=False, default=None, help=help_text)
        else:  # --NAME / --no-NAME
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        return
    parser.add_argument(flag, dest=dest, type=_parse_type(annotation), choices=meta.get("choices"), default=None,
                        help=help_text, metavar=None if meta.get("choices") else f.name.upper())


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per command-line field of TrainConfig, with ModelConfig's fields in their own group."""
    data_and_training = parser.add_argument_group("data and training (TrainConfig)")
    model = parser.add_argument_group("model (ModelConfig)")
    for f in fields(TrainConfig):
        if f.metadata.get("nested"):
            for mf in fields(ModelConfig):
                if mf.metadata.get("cli", True):
                    _add_field(model, mf, NESTED + mf.name)
        elif f.metadata.get("cli", True):
            _add_field(data_and_training, f, f.name)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line, as a TrainConfig.from_dict dict (the model nested)."""
    given = {k: v for k, v in vars(args).items() if v is not None}
    train = {f.name: given[f.name] for f in fields(TrainConfig) if f.name in given and not f.metadata.get("nested")}
    model = {k[len(NESTED):]: v for k, v in given.items() if k.startswith(NESTED)}
    if model:
        train["model"] = model
    return train


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` (a config.json's train section, of any format) overlaid with ``override``; the model merges
    field by field."""
    base_config = TrainConfig.from_dict(base).to_dict() if base else {}
    merged = {**base_config, **{k: v for k, v in override.items() if k != "model"}}
    if "model" in override:
        merged["model"] = {**base_config.get("model", {}), **override["model"]}
    return merged
