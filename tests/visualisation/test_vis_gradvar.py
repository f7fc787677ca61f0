"""gradvar's figures as matplotlib figures (for notebooks) and as the PNG files `vaelab gradvar` writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vaelab.evaluation.gradvar import gradient_variance_table, snr_against_k, snr_slopes
from vaelab.visualisation.canvas import figure_png
from vaelab.visualisation.gradvar_plot import plot_rows, plot_snr, snr_figure, variance_figure


@pytest.fixture(scope="module")
def batch():
    import vaelab

    return vaelab.load_dataset("digits").train[:16]


def test_variance_figure_has_a_bar_per_estimator_and_group(digits_run, batch, tmp_path):
    model = digits_run.model
    model.train()
    rows = gradient_variance_table(model, batch, draws=5, seed=0)
    fig = variance_figure(rows)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    bars = [p for p in ax.patches]
    assert len(bars) == 3 * 3  # pathwise, score-function, stl x encoder, decoder, total
    heights = sorted(b.get_height() for b in bars)
    assert np.allclose(heights, sorted(r["variance"] for r in rows))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pathwise", "score-function", "stl"]
    path = plot_rows(rows, tmp_path / "gradvar.png")  # the file is the same figure
    assert path.read_bytes() == figure_png(variance_figure(rows))
    with Image.open(path) as im:
        assert im.size[0] > 300


def test_snr_figure_has_a_line_per_estimator_and_group(digits_run, batch, tmp_path):
    model = digits_run.model
    model.train()
    rows = snr_against_k(model, batch[:4], ks=(1, 4), draws=4, seed=0)
    slopes = snr_slopes(rows)
    fig = snr_figure(rows, slopes)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum(label.startswith(("pathwise, ", "dreg, ")) for label in labels) == 4  # 2 estimators x 2 groups
    assert plot_snr(rows, slopes, tmp_path / "snr.png").read_bytes() == figure_png(snr_figure(rows, slopes))
