"""Prior samples and reconstructions: grid layouts, image sizes, titles and the pixels they show."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.cli.main import main
from vaelab.errors import VaelabError
from vaelab.visualisation.canvas import MIN_TITLED_WIDTH, title_band_height, with_title
from vaelab.visualisation.grid import image_grid
from vaelab.visualisation.reconstructions import interleave_rows, reconstructions_figure
from vaelab.visualisation.samples import prior_samples, samples_figure, samples_title, save_samples


def _grid_part(img: Image.Image, grid: np.ndarray) -> np.ndarray:
    """The pixels of a titled figure where the grid lies (below the band, centred)."""
    arr = np.asarray(img)
    left = (img.width - grid.shape[1]) // 2
    return arr[img.height - grid.shape[0]:, left:left + grid.shape[1]]


def test_title_band_keeps_image_pixels_and_has_text():
    grid = np.full((100, 500), 200, dtype=np.uint8)
    img = with_title(grid, "a title that is long enough to be drawn in dark pixels")
    band = title_band_height("a title that is long enough to be drawn in dark pixels", 500)
    assert img.size == (500, 100 + band)
    assert np.array_equal(np.asarray(img)[band:], grid)
    assert (np.asarray(img)[:band] < 100).sum() > 50  # the text is drawn
    narrow = with_title(np.zeros((20, 30), np.uint8), "narrow")
    assert narrow.width == MIN_TITLED_WIDTH  # narrow images are centred on a wider canvas


def test_samples_grid_layout_pixels_and_title(digits_run):
    model = digits_run.model
    img = samples_figure(model, n=12, nrow=4, seed=3)
    images = prior_samples(model, 12, seed=3)  # (12, 1, 8, 8)
    assert images.shape == (12, 1, 8, 8)
    grid = image_grid(images, 4)  # 8x8 images enlarged 6x to 48 px, 2 px gaps: 4 columns, 3 rows
    assert grid.shape == (3 * 50 + 2, 4 * 50 + 2)
    title = samples_title(12, 1.0, True)
    assert "decoder mean" in title and "N(0, I)" in title
    assert img.size == (MIN_TITLED_WIDTH, grid.shape[0] + title_band_height(title, grid.shape[1]))
    assert np.array_equal(_grid_part(img, grid), grid)
    # the decoder means of z = t * eps with the seed's eps
    eps = torch.randn((12, 4), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = model.decode(0.5 * eps)
    assert torch.allclose(prior_samples(model, 12, temperature=0.5, seed=3), expected, atol=1e-6)
    assert "one draw x ~ p(x|z)" in samples_title(4, 0.7, False) and "temperature 0.7" in samples_title(4, 0.7, False)


def test_sample_command_writes_png(digits_run, tmp_path, capsys):
    out = tmp_path / "s.png"
    assert main(["sample", str(digits_run.run_dir), "-n", "64", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    with Image.open(out) as im:
        grid_side = 8 * 50 + 2  # 8x8 grid of 48 px cells
        assert im.width == grid_side
        assert im.height == grid_side + title_band_height(samples_title(64, 1.0, True), grid_side)
        assert len(np.unique(np.asarray(im))) > 20  # not blank
    assert main(["sample", str(digits_run.run_dir), "-n", "9", "--sample", "--temperature", "0.5",
                 "--out", str(tmp_path / "draws.png")]) == 0
    with Image.open(tmp_path / "draws.png") as im:
        assert im.width == MIN_TITLED_WIDTH and im.height > 3 * 50 + 2


def test_sample_refuses_an_autoencoder_and_bad_options(ae_run, digits_run, capsys):
    with pytest.raises(VaelabError, match="needs a VAE run"):
        save_samples(ae_run)
    assert main(["sample", str(ae_run.run_dir)]) == 2
    assert "sampling needs a VAE run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", str(digits_run.run_dir), "--temperature", "-1"])
    assert "expected a positive number" in capsys.readouterr().err
    assert main(["sample", "/no/such/run"]) == 2
    assert "config.json: not found" in capsys.readouterr().err


def test_reconstructions_rows_alternate_originals_and_reconstructions(digits_run):
    x = torch.rand(16, 1, 8, 8)
    img = reconstructions_figure(digits_run.model, x, per_row=8)
    recon = digits_run.model.reconstruct(x)
    grid = image_grid(interleave_rows(x, recon, 8), 8)
    assert grid.shape == (4 * 50 + 2, 8 * 50 + 2)  # rows: originals, reconstructions, originals, reconstructions
    part = _grid_part(img, grid)
    assert np.array_equal(part, grid)
    cell = lambda r, c: part[2 + r * 50:2 + r * 50 + 48:6, 2 + c * 50:2 + c * 50 + 48:6]  # (8, 8) image
    to_u8 = lambda t: (t.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(cell(0, 3), to_u8(x[3, 0]))  # row 1: original 3
    assert np.array_equal(cell(1, 3), to_u8(recon[3, 0]))  # row 2: its reconstruction
    assert np.array_equal(cell(2, 5), to_u8(x[13, 0]))  # row 3: original 13
    assert np.array_equal(cell(3, 5), to_u8(recon[13, 0]))


def test_reconstruct_command(digits_run, tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["reconstruct", str(digits_run.run_dir), "-n", "16", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.width == 8 * 50 + 2
        assert im.height > 4 * 50 + 2
