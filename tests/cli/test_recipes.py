"""Named recipes: ``vaelab recipes`` lists them, ``vaelab train --recipe`` starts from one, options override it."""

from __future__ import annotations

import json

import pytest

from vaelab.cli.main import main
from vaelab.runs.config import TrainConfig
from vaelab.runs.recipes import RECIPES


def test_recipes_lists_each_recipe_with_its_measured_nll_time_and_commands(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for recipe in RECIPES.values():
        assert recipe.name in out and recipe.test_nll in out and recipe.eval_command in out
        assert f"vaelab train --recipe {recipe.name}" in out


def test_every_recipe_is_a_valid_config_and_the_elbo_recipe_is_vaelabs_defaults():
    for recipe in RECIPES.values():
        TrainConfig.from_dict(recipe.train)  # raises on a bad field or value
    spelled_out = TrainConfig.from_dict(RECIPES["vae-mnist"].train).to_dict()
    defaults = TrainConfig(dataset="binarized-mnist").to_dict()
    assert spelled_out == defaults


def test_train_starts_from_the_recipe_and_options_given_with_it_override_it(tmp_path):
    run = tmp_path / "r"
    assert main(["train", "--recipe", "iwae50-finetune-mnist", "--dataset", "digits", "--init-from", "none-yet",
                 "--out", str(run)]) == 2  # the recipe's values reach the run: it goes looking for that run
    base = tmp_path / "base"
    assert main(["train", "--recipe", "vae-mnist", "--dataset", "digits", "--epochs", "1", "--hidden", "16",
                 "--latent-dim", "3", "--out", str(base), "--quiet"]) == 0
    train = json.loads((base / "config.json").read_text())["train"]
    assert train["model"]["hidden"] == [16] and train["model"]["latent_dim"] == 3 and train["epochs"] == 1
    assert train["lr_decay"] == 0.999 and train["warmup_epochs"] == 50.0 and train["ema_decay"] == 0.999
    tuned = tmp_path / "tuned"
    assert main(["train", "--recipe", "iwae50-finetune-mnist", "--dataset", "digits", "--init-from", str(base),
                 "--epochs", "1", "--k", "5", "--hidden", "16", "--latent-dim", "3", "--out", str(tuned),
                 "--quiet"]) == 0
    train = json.loads((tuned / "config.json").read_text())["train"]
    assert (train["objective"], train["k"], train["lr"], train["lr_decay"]) == ("iwae", 5, 1e-4, 0.98)


@pytest.mark.parametrize("args, message", [
    (["--recipe", "nope"], "unknown recipe 'nope': expected one of vae-mnist"),
    (["--recipe", "iwae50-finetune-mnist"], "recipe iwae50-finetune-mnist needs --init-from RUN"),
    (["--recipe", "vae-mnist", "--config", "x.json"], "give --recipe or --config, not both"),
])
def test_a_bad_recipe_request_gets_one_line(args, message, capsys):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
