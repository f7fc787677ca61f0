"""Tables (.csv / .parquet) as data: per-column standardisation stored in the run and applied to new rows, the
scaling round-trip, units of log p(x), and one-line errors naming the column and row."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import vaelab
from vaelab.cli.main import main
from vaelab.data import load_dataset
from vaelab.data.tables import TableScaling, table_scaling
from vaelab.errors import ConfigError, DataError

pd = pytest.importorskip("pandas", reason="the tables extra: pip install -e '.[tables]'")


def _table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(100.0, 10.0, n)
    return pd.DataFrame({"a": a, "b": 0.5 * a + rng.normal(0, 1, n), "c": rng.uniform(0, 1e-3, n),
                         "y": rng.integers(0, 2, n)})


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    _table().to_csv(folder / "t.csv", index=False)
    config = dict(dataset=str(folder / "t.csv"), label_column="y", hidden=(16,), latent_dim=2, epochs=2,
                  batch_size=16, seed=0, device="cpu", warmup_epochs=0, out=str(folder / "run"))
    return vaelab.train(vaelab.TrainConfig.from_dict(config), quiet=True), folder


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_loads_standardised_with_the_train_splits_statistics(tmp_path, suffix):
    frame = _table()
    path = tmp_path / f"t{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
    data = load_dataset(str(path), label_column="y")
    assert data.kind == "real" and data.image_shape == (1, 1, 3)
    train = data.train.reshape(-1, 3).double()
    assert torch.allclose(train.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(train.std(0, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-5)
    scaling = TableScaling.from_dict(data.source["table"])
    assert scaling.columns == ["a", "b", "c"] and scaling.label_column == "y"
    # the scaling round-trips: standardised rows back in raw units are the file's rows
    rows = np.concatenate([data.train, data.valid, data.test]).reshape(-1, 3)
    raw = np.sort(scaling.unstandardise(rows.astype(np.float64)), axis=0)
    np.testing.assert_allclose(raw, np.sort(frame[["a", "b", "c"]].to_numpy(), axis=0), rtol=1e-5)
    assert scaling.log_scale == pytest.approx(sum(math.log(s) for s in scaling.stds))
    assert sorted(set(torch.cat([data.train_labels, data.valid_labels, data.test_labels]).tolist())) == [0, 1]
    assert load_dataset(str(path), columns="a,c").image_shape == (1, 1, 2)


def test_new_rows_get_the_runs_scaling_and_scores_in_both_units(table_run, tmp_path, capsys):
    run, folder = table_run
    scaling = table_scaling(json.loads((run.run_dir / "config.json").read_text())["data"])
    assert scaling is not None and scaling.columns == ["a", "b", "c"]
    new = _table(5, seed=1)
    new.to_csv(tmp_path / "new.csv", index=False)
    codes = tmp_path / "codes.npz"
    assert main(["encode", str(run.run_dir), str(tmp_path / "new.csv"), "--out", str(codes), "--quiet"]) == 0
    x = torch.from_numpy(scaling.standardise(new[["a", "b", "c"]].to_numpy()).astype(np.float32)).reshape(5, 1, 1, 3)
    with torch.no_grad():
        np.testing.assert_allclose(np.load(codes)["mean"], run.model.encode(x).mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.load(codes)["labels"], new["y"].to_numpy())
    capsys.readouterr()
    assert main(["score", str(run.run_dir), str(tmp_path / "new.csv"), "-k", "10", "--quiet",
                 "--out", str(tmp_path / "s.csv")]) == 0
    assert f"{scaling.log_scale:.4f}" in capsys.readouterr().out
    # a Gaussian decoder's mean on a table is unbounded (identity), not a sigmoid in [0, 1]
    assert run.model_config.gaussian_mean == "identity"
    # decode writes rows in the table's raw units
    assert main(["decode", str(run.run_dir), str(codes), "--out", str(tmp_path / "dec"), "--quiet"]) == 0
    decoded = pd.read_csv(tmp_path / "dec" / "decoded.csv")
    assert list(decoded.columns) == ["a", "b", "c"]
    with torch.no_grad():
        expect = scaling.unstandardise(run.model.decode(torch.from_numpy(np.load(codes)["mean"])).reshape(5, 3).numpy())
    np.testing.assert_allclose(decoded.to_numpy(), expect, rtol=1e-5)


@pytest.mark.parametrize("mutate, message", [
    (lambda f: f.assign(b=f["b"].astype(object).where(f.index != 3, "twelve")),
     "column 'b', row 4: non-numeric value 'twelve'"),
    (lambda f: f.assign(a=f["a"].where(f.index != 6)), "column 'a', row 7: missing value"),
    (lambda f: f.assign(c=7.0), "column 'c' is constant"),
])
def test_bad_tables_give_one_line_naming_column_and_row(tmp_path, mutate, message):
    path = tmp_path / "bad.csv"
    mutate(_table()).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        load_dataset(str(path), label_column="y")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_wrong_columns_and_conv_are_refused(table_run, tmp_path, capsys):
    run, folder = table_run
    _table()[["a", "y"]].to_csv(tmp_path / "few.csv", index=False)
    assert main(["score", str(run.run_dir), str(tmp_path / "few.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "lacks 2 of the 3 columns the run was trained on: 'b', 'c'" in err and "\n" not in err
    with pytest.raises(ConfigError, match="use --arch mlp"):
        vaelab.train(vaelab.TrainConfig.from_dict(dict(dataset=str(folder / "t.csv"), epochs=1, device="cpu",
                                                       model={"arch": "conv"}, out=str(tmp_path / "r"))), quiet=True)
    with pytest.raises(ConfigError, match="likelihood gaussian"):
        vaelab.train(vaelab.TrainConfig.from_dict(dict(dataset=str(folder / "t.csv"), epochs=1, device="cpu",
                                                       model={"likelihood": "continuous-bernoulli"},
                                                       out=str(tmp_path / "r2"))), quiet=True)


def test_eval_reports_log_px_in_both_units(table_run, capsys):
    run, _ = table_run
    assert main(["eval", str(run.run_dir), "-k", "10", "--quiet"]) == 0
    ev = json.loads((run.run_dir / "eval_test.json").read_text())
    scaling = table_scaling(json.loads((run.run_dir / "config.json").read_text())["data"])
    assert ev["units"] == "standardised columns" and ev["log_scale"] == pytest.approx(scaling.log_scale)
    assert ev["log_likelihood_raw_units"] == pytest.approx(ev["log_likelihood"] - scaling.log_scale)
    assert "raw units" in capsys.readouterr().out
