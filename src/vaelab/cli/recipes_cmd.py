"""``vaelab recipes``: the named recipes, each with its measured test NLL, training time and commands."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipes", help="list the named training recipes and what they measured",
                       description="The named recipes of vaelab train --recipe NAME: each with its measured test "
                                   "NLL, training time on 2 CPU cores, and the commands that reproduce it.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.runs.recipes import RECIPES

    for recipe in RECIPES.values():
        print(f"{recipe.name}\n  {recipe.summary}\n  test NLL: {recipe.test_nll}; training: {recipe.minutes} min "
              f"on 2 CPU cores ({recipe.source})\n  train: {recipe.command()}\n  eval:  {recipe.eval_command}\n")
    return 0
