"""The independent-pixel background: per-pixel level frequencies with add-1/2 counts, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaelab.data.pixel_model import KT_PSEUDOCOUNT, IndependentPixels
from vaelab.errors import DataError


def test_binary_pixels_by_hand():
    # 4 images of 2 pixels: pixel 0 is on in 3 of them, pixel 1 in none
    x = torch.tensor([[1, 0], [1, 0], [1, 0], [0, 0]], dtype=torch.float32).reshape(4, 1, 1, 2)
    model = IndependentPixels.fit(x, binary=True)
    assert KT_PSEUDOCOUNT == 0.5
    p_on = [(3 + 0.5) / (4 + 1), (0 + 0.5) / (4 + 1)]  # add-1/2 over 2 levels
    probe = torch.tensor([[1, 1], [0, 0]], dtype=torch.float32).reshape(2, 1, 1, 2)
    want = [math.log(p_on[0]) + math.log(p_on[1]), math.log(1 - p_on[0]) + math.log(1 - p_on[1])]
    assert model.log_prob(probe) == pytest.approx(want)
    assert model.density_nll(probe) == pytest.approx([-w for w in want])  # binary: a probability, no offset


def test_gray_levels_by_hand_and_as_a_density():
    levels = np.array([[0, 255], [0, 128], [7, 128]], dtype=np.float32)  # 3 images of 2 pixels, 8-bit levels
    x = torch.from_numpy(levels / 255).reshape(3, 1, 1, 2)
    model = IndependentPixels.fit(x, binary=False)
    total = 3 + 0.5 * 256
    probe = torch.tensor([0, 128, 7, 9], dtype=torch.float32).div(255).reshape(2, 1, 1, 2)
    want = [math.log(2.5 / total) + math.log(2.5 / total), math.log(1.5 / total) + math.log(0.5 / total)]
    assert model.log_prob(probe) == pytest.approx(want)
    # a density on [0, 1]^2 with each level a bin of width 1/256: -log p = -log P - 2 ln 256
    assert model.density_nll(probe) == pytest.approx([-w - 2 * math.log(256) for w in want])
    assert np.allclose(np.exp(model.log_probs).sum(1), 1.0)  # each pixel's levels sum to 1


def test_perturbation_spreads_probability_evenly_over_the_levels():
    x = torch.tensor([[1.0], [1.0], [1.0], [0.0]]).reshape(4, 1, 1, 1)  # on in 3 of 4 images
    model = IndependentPixels.fit(x, binary=True, perturbation=0.3)
    p_on = 0.7 * (3 + 0.5) / (4 + 1) + 0.3 / 2  # a pixel replaced at rate 0.3 by a uniform level
    probe = torch.tensor([1.0, 0.0]).reshape(2, 1, 1, 1)
    assert model.log_prob(probe) == pytest.approx([math.log(p_on), math.log(1 - p_on)])
    gray = IndependentPixels.fit(torch.zeros(2, 1, 1, 1), binary=False, perturbation=0.3)
    total = 2 + 0.5 * 256
    assert gray.log_probs[0, 0] == pytest.approx(math.log(0.7 * 2.5 / total + 0.3 / 256))
    assert gray.log_probs[0, 9] == pytest.approx(math.log(0.7 * 0.5 / total + 0.3 / 256))


def test_wrong_shapes_and_values_are_refused_in_one_line():
    model = IndependentPixels.fit(torch.zeros(2, 1, 4, 4), binary=True)
    with pytest.raises(DataError, match=r"takes images of shape \(1, 4, 4\), got \(1, 4, 5\)"):
        model.log_prob(torch.zeros(1, 1, 4, 5))
    with pytest.raises(DataError, match="pixels 0 or 1 only"):
        model.log_prob(torch.full((1, 1, 4, 4), 0.5))
    with pytest.raises(DataError, match="non-empty batch"):
        IndependentPixels.fit(torch.zeros(0, 1, 4, 4), binary=True)
    with pytest.raises(DataError, match="perturbation rate must be in \\[0, 1\\], got 1.5"):
        IndependentPixels.fit(torch.zeros(2, 1, 4, 4), binary=True, perturbation=1.5)
