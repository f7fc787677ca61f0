"""Latent maps: coordinates, projection, and point colours that match the labels (figure and PNG pixels)."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from vaelab.cli.main import main
from vaelab.data import load_dataset
from vaelab.visualisation.canvas import figure_png
from vaelab.utils.latent_plane import UNLABELLED_COLOUR, class_colours, point_colours
from vaelab.visualisation.latents import latent_map, latent_map_figure


def _scatter(fig):
    ax = fig.axes[0]
    assert len(ax.collections) == 1
    return ax, ax.collections[0]


def test_2d_map_shows_the_posterior_means(digits_run_2d):
    data = load_dataset("digits")
    lmap = latent_map(digits_run_2d.model, data.test, data.test_labels, data.class_names)
    with torch.no_grad():
        mu = digits_run_2d.model.encode(data.test).mu.double().numpy()
    assert lmap.method == "z" and lmap.axis_labels == ("z0", "z1")
    assert np.allclose(lmap.coords, mu)


def test_colours_match_labels_in_the_figure_and_the_png(digits_run):
    data = load_dataset("digits")
    labels = data.test_labels
    lmap = latent_map(digits_run.model, data.test, labels, data.class_names)
    assert lmap.method == "PCA" and lmap.coords.shape == (270, 2) and lmap.axis_labels[0].startswith("PC1 (")
    table = class_colours(10)
    assert len({tuple(c) for c in table}) == 10  # ten distinct colours
    assert np.allclose(point_colours(lmap), table[labels.numpy()])
    fig = latent_map_figure(lmap, seed=0)
    ax, sc = _scatter(fig)
    offsets, faces = np.asarray(sc.get_offsets()), sc.get_facecolors()
    assert offsets.shape == (270, 2) and faces.shape == (270, 4)
    for xy, face in zip(offsets, faces):  # each drawn point has the colour of the label of the example there
        i = int(np.argmin(np.abs(lmap.coords - xy).sum(1)))
        assert np.allclose(face, table[int(labels[i])])
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [str(d) for d in range(10)]
    for handle, d in zip(legend.legend_handles, range(10)):
        assert np.allclose(handle.get_markerfacecolor(), table[d])
    # the rendered PNG holds pixels of exactly each class's colour
    png = np.asarray(Image.open(io.BytesIO(figure_png(fig))).convert("RGB")).reshape(-1, 3)
    for d in range(10):
        rgb = np.round(table[d][:3] * 255).astype(int)
        assert (np.abs(png.astype(int) - rgb).max(1) <= 1).sum() > 20, d


def test_unlabelled_data_get_one_colour_and_say_so(digits_run):
    x = load_dataset("digits").test[:50]
    lmap = latent_map(digits_run.model, x)
    fig = latent_map_figure(lmap)
    ax, sc = _scatter(fig)
    assert np.allclose(sc.get_facecolors(), np.tile(UNLABELLED_COLOUR, (50, 1)))
    assert "no labels: one colour" in ax.get_title()
    assert ax.get_legend() is None


def test_tsne_and_the_command(digits_run, tmp_path, capsys):
    data = load_dataset("digits")
    lmap = latent_map(digits_run.model, data.test[:60], data.test_labels[:60], data.class_names, method="tsne")
    assert lmap.method == "t-SNE" and lmap.coords.shape == (60, 2) and np.isfinite(lmap.coords).all()
    out = tmp_path / "l.png"
    assert main(["latents", str(digits_run.run_dir), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.width > 500 and im.height > 400
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 50
    assert main(["latents", str(digits_run.run_dir), "--tsne", "--limit", "80"]) == 0
    assert (digits_run.run_dir / "latents-tsne.png").is_file()
