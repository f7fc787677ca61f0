"""Ren et al.'s input perturbation: which pixels are replaced, and by what."""

from __future__ import annotations

import pytest
import torch

from vaelab.data.perturb import perturb
from vaelab.errors import ConfigError


def test_rate_zero_leaves_the_input_alone():
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(perturb(x, 0.0, binary=False), x)


def test_gray_pixels_are_replaced_by_8_bit_levels_at_the_rate():
    x = torch.full((200, 1, 28, 28), 0.3)  # a value that is no 8-bit level: every replacement shows
    y = perturb(x, 0.25, binary=False, generator=torch.Generator().manual_seed(0))
    changed = y != x
    assert changed.float().mean().item() == pytest.approx(0.25, abs=0.005)  # 156,800 pixels: s.e. 0.0011
    levels = y[changed] * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4) and levels.min() >= 0 and levels.max() <= 255
    assert levels.mean().item() == pytest.approx(127.5, abs=2)  # uniform over 0..255


def test_binary_pixels_flip_at_half_the_rate():
    x = torch.zeros(200, 1, 28, 28)
    y = perturb(x, 0.4, binary=True, generator=torch.Generator().manual_seed(1))
    assert set(y.unique().tolist()) == {0.0, 1.0}
    # a pixel changes when it is picked (0.4) and the uniform draw from {0, 1} is the other value (1/2)
    assert y.mean().item() == pytest.approx(0.2, abs=0.005)


def test_rate_outside_0_1_is_refused():
    with pytest.raises(ConfigError, match="perturbation rate must be in"):
        perturb(torch.zeros(1, 1, 2, 2), 1.5, binary=True)
