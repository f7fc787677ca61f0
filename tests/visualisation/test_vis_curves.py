"""Training curves: the plotted lines are the recorded metrics; several runs overlay."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vaelab.cli.main import main
from vaelab.visualisation.curves import curves_figure


def _lines(fig) -> dict[str, object]:
    return {line.get_gid(): line for ax in fig.axes for line in ax.lines if line.get_gid()}


def test_lines_are_the_metrics_of_each_run(digits_run, digits_run_2d):
    fig = curves_figure([digits_run, digits_run_2d])
    lines = _lines(fig)
    assert len(fig.axes) == 3
    assert len(lines) == 2 * 2 * 3  # runs x (train, valid) x (ELBO, reconstruction, KL)
    for i, run in enumerate([digits_run, digits_run_2d]):
        for key in ("train_elbo", "valid_elbo", "train_kl", "valid_reconstruction"):
            x, y = lines[f"{i}:{key}"].get_data()
            assert list(x) == [m["epoch"] for m in run.metrics]
            assert np.allclose(y, [m[key] for m in run.metrics])
    assert lines["0:train_elbo"].get_linestyle() == "--" and lines["0:valid_elbo"].get_linestyle() == "-"
    assert not np.allclose(lines["0:valid_elbo"].get_color(), lines["1:valid_elbo"].get_color())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == [f"{digits_run.run_dir.name} (D=4)", f"{digits_run_2d.run_dir.name} (D=2)"]


def test_autoencoder_has_only_reconstruction_curves(ae_run):
    fig = curves_figure([ae_run])
    assert set(_lines(fig)) == {"0:train_reconstruction", "0:valid_reconstruction"}
    assert "not recorded" in " ".join(t.get_text() for t in fig.axes[0].texts)


def test_curves_command_paths_and_errors(digits_run, digits_run_2d, tmp_path, capsys):
    assert main(["curves", str(digits_run.run_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {digits_run.run_dir / 'curves.png'}"
    out = tmp_path / "both.png"
    assert main(["curves", str(digits_run.run_dir), str(digits_run_2d.run_dir), "--labels", "D=4,D=2",
                 "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.width > 1000 and im.height > 350
    assert main(["curves", str(digits_run.run_dir), "--labels", "a,b"]) == 2
    assert "--labels gives 2 labels for 1 runs" in capsys.readouterr().err


def test_default_curves_path_never_writes_to_the_filesystem_root(tmp_path):
    from pathlib import Path

    from vaelab.visualisation.curves import default_curves_path

    assert default_curves_path([tmp_path / "a"]) == tmp_path / "a" / "curves.png"
    assert default_curves_path([tmp_path / "a", tmp_path / "b"]) == tmp_path.resolve() / "curves.png"
    assert default_curves_path([Path("/one/a"), Path("/two/b")]) == Path("/one/a/curves-compare.png")
