"""The latent manifold: inverse-CDF grid points, layout, and the most active dimensions for D > 2."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import norm

from vaelab.cli.main import main
from vaelab.data import load_dataset
from vaelab.visualisation.grid import image_grid
from vaelab.visualisation.manifold import (choose_dims, grid_coordinates, grid_quantiles, latent_activity,
                                           manifold_figure, manifold_latents, manifold_title)


def test_grid_points_are_the_inverse_normal_cdf_of_evenly_spaced_quantiles():
    q = grid_quantiles(20).numpy()
    assert np.allclose(q, (np.arange(20) + 0.5) / 20)
    assert np.allclose(np.diff(q), 0.05)
    assert np.allclose(grid_coordinates(20).numpy(), norm.ppf(q), atol=1e-9)
    assert float(grid_coordinates(20)[0]) == pytest.approx(-float(grid_coordinates(20)[-1]), abs=1e-12)
    assert abs(float(grid_coordinates(20)[-1]) - 1.959964) < 1e-5


def test_manifold_latents_layout():
    z = manifold_latents(3, 5, (4, 1)).reshape(3, 3, 5)
    c = grid_coordinates(3).float()
    assert torch.allclose(z[0, :, 4], c)  # columns: z4 increasing left to right
    assert torch.allclose(z[:, 0, 1], c.flip(0))  # rows: z1 highest at the top
    assert (z[..., [0, 2, 3]] == 0).all()  # the other dimensions at the prior mean
    assert manifold_latents(4, 1, (0,)).shape == (4, 1)


def test_2d_manifold_image_decodes_the_grid(digits_run_2d):
    model = digits_run_2d.model
    img = manifold_figure(model, grid=6)
    with torch.no_grad():
        decoded = model.decode(manifold_latents(6, 2, (0, 1)))  # (36, 1, 8, 8)
    grid = image_grid(decoded, nrow=6, padding=1, min_cell=28)  # 8 px enlarged 4x = 32, 1 px gaps
    assert grid.shape == (6 * 33 + 1, 6 * 33 + 1)
    arr = np.asarray(img)
    left = (img.width - grid.shape[1]) // 2
    assert np.array_equal(arr[-grid.shape[0]:, left:left + grid.shape[1]], grid)
    assert "2-D latent: z0 left to right, z1 bottom to top" in manifold_title(6, 2, (0, 1), None)


def test_higher_dim_manifold_spans_the_two_most_active_dimensions(digits_run):
    model = digits_run.model
    x = load_dataset("digits").test
    act = latent_activity(model, x)
    with torch.no_grad():
        mu = model.encode(x).mu
    assert torch.allclose(act, mu.double().var(0), rtol=1e-5)
    a, b = choose_dims(4, act)
    order = torch.argsort(act, descending=True).tolist()
    assert (a, b) == (order[0], order[1])
    title = manifold_title(5, 4, (a, b), act)
    assert f"z{a} (activity {float(act[a]):.2f})" in title and f"z{b} (activity {float(act[b]):.2f})" in title
    assert "other dimensions 0" in title
    img = manifold_figure(model, grid=5, x=x)
    with torch.no_grad():
        decoded = model.decode(manifold_latents(5, 4, (a, b)))
    grid = image_grid(decoded, nrow=5, padding=1, min_cell=28)
    arr = np.asarray(img)
    left = (img.width - grid.shape[1]) // 2
    assert np.array_equal(arr[-grid.shape[0]:, left:left + grid.shape[1]], grid)


def test_manifold_command(digits_run, digits_run_2d, tmp_path, capsys):
    out = tmp_path / "m.png"
    assert main(["manifold", str(digits_run_2d.run_dir), "--grid", "20", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.width == 20 * 33 + 1 and im.height > 20 * 33 + 1
    assert main(["manifold", str(digits_run.run_dir), "--grid", "4", "--dims", "0,0"]) == 2
    assert "must be 2 distinct indices in 0..3" in capsys.readouterr().err
    assert main(["manifold", str(digits_run.run_dir), "--grid", "4", "--dims", "3,1"]) == 0
