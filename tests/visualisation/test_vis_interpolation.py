"""Latent interpolation: the paths, the decoded endpoints, the strip and the GIF."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.cli.main import main
from vaelab.visualisation.canvas import title_band_height
from vaelab.visualisation.interpolation import interpolate, lerp, slerp


def test_lerp_is_evenly_spaced_with_the_ends_included():
    z0, z1 = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    path = lerp(z0, z1, 5)
    assert torch.allclose(path, torch.tensor([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [3.0, -1.0], [4.0, -2.0]]))


def test_slerp_follows_the_great_circle_with_linear_norm():
    z0, z1 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    path = slerp(z0, z1, 3)
    assert torch.allclose(path[0], z0) and torch.allclose(path[-1], z1)
    assert torch.allclose(path.norm(dim=1), torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(path[1] / path[1].norm(), torch.tensor([1.0, 1.0, 0.0]) / 2 ** 0.5, atol=1e-6)  # 45 deg
    assert torch.allclose(slerp(z0, 2 * z0, 3), lerp(z0, 2 * z0, 3))  # parallel: falls back to lerp


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_endpoints_decode_the_endpoints_codes(digits_run, spherical):
    model = digits_run.model
    x = torch.rand(2, 1, 8, 8)
    result = interpolate(model, x[0], x[1], steps=7, spherical=spherical)
    assert result.images.shape == (7, 1, 8, 8) and result.z.shape == (7, 4)
    with torch.no_grad():
        mu = model.encode(x).mu  # (2, D)
        ends = model.decode(mu)
    assert torch.allclose(result.z[0], mu[0], atol=1e-5) and torch.allclose(result.z[-1], mu[1], atol=1e-5)
    assert torch.allclose(result.images[0], ends[0], atol=1e-5)
    assert torch.allclose(result.images[-1], ends[1], atol=1e-5)
    assert not torch.allclose(result.images[3], ends[0], atol=1e-3)  # the middle differs from the ends


def test_interpolate_command_writes_strip_and_gif(digits_run, tmp_path, capsys):
    out = tmp_path / "path.png"
    assert main(["interpolate", str(digits_run.run_dir), "--from", "0", "--to", "5", "--steps", "10",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert str(out) in printed and str(tmp_path / "path.gif") in printed
    with Image.open(out) as im:
        cells = 10 + 4  # input, gap, 10 steps, gap, input
        width = cells * 50 + 2
        assert im.width == width
        assert im.height == 50 + 2 + title_band_height(
            "linear interpolation of z in 10 steps between the posterior means of test #0 (left) and test #5 (right); "
            "inputs at the ends, decoder means between", width)
        strip = np.asarray(im)[-52:]
        assert (strip[2:50, 52:100] == 255).all()  # the white gap after the first input
    with Image.open(tmp_path / "path.gif") as gif:
        assert gif.n_frames == 2 * 10 - 2  # forth and back
        assert gif.size == (112, 112)  # 8x8 enlarged 14x
        assert gif.info.get("loop") == 0


def test_interpolate_between_image_files_and_bad_endpoints(digits_run, tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray((np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)).save(a)
    Image.fromarray(np.full((8, 8), 40, np.uint8)).save(b)
    assert main(["interpolate", str(digits_run.run_dir), "--from", str(a), "--to", str(b), "--slerp",
                 "--steps", "4"]) == 0
    assert (digits_run.run_dir / "interpolation-a-b-slerp.gif").is_file()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "big.png")
    assert main(["interpolate", str(digits_run.run_dir), "--from", str(tmp_path / "big.png"), "--to", "1"]) == 2
    assert "images of 28x28 pixels, but the model takes 8x8" in capsys.readouterr().err
    assert main(["interpolate", str(digits_run.run_dir), "--from", "99999", "--to", "1"]) == 2
    assert "test example 99999 does not exist (expected an index 0..269" in capsys.readouterr().err
