"""The complexity term L(x): compressed lengths in nats, checked against the compressors' own output."""

from __future__ import annotations

import io
import math
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data.complexity import COMPRESSORS, compressed_bytes, compressed_length, quantise
from vaelab.errors import ConfigError, DataError
from vaelab.runs.anomaly_config import COMPRESSORS as CLI_COMPRESSORS


def test_the_command_line_lists_the_same_compressors():
    assert CLI_COMPRESSORS == COMPRESSORS


def test_constant_gray_image_costs_exactly_its_tiff_file():
    x = torch.full((1, 1, 28, 28), 128 / 255)  # one constant 8-bit level
    buf = io.BytesIO()
    Image.fromarray(np.full((28, 28), 128, np.uint8)).save(buf, format="TIFF", compression="tiff_lzw")
    expected = 8 * math.log(2) * len(buf.getvalue())
    assert compressed_length(x, binary=False, compressor="tiff")[0] == pytest.approx(expected)


def test_constant_images_cost_exactly_their_png_files():
    """PNG, the default compressor: a constant 8-bit image and a blank 1-bit image, against Pillow's own files."""
    x = torch.full((1, 1, 28, 28), 77 / 255)
    buf = io.BytesIO()
    Image.fromarray(np.full((28, 28), 77, np.uint8)).save(buf, format="PNG", compress_level=9)
    assert compressed_length(x, binary=False, compressor="png")[0] == pytest.approx(8 * math.log(2) * len(buf.getvalue()))
    buf = io.BytesIO()
    Image.fromarray(np.zeros((28, 28), np.uint8)).convert("1").save(buf, format="PNG", compress_level=9)
    blank = compressed_length(torch.zeros(1, 1, 28, 28), binary=True, compressor="png")[0]
    assert blank == pytest.approx(8 * math.log(2) * len(buf.getvalue()))
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        assert im.mode == "1"  # stored as a 1-bit image


def test_blank_binary_image_costs_exactly_its_zlib_stream():
    x = torch.zeros(2, 1, 28, 28)
    expected = 8 * math.log(2) * len(zlib.compress(bytes(98), 9))  # 784 pixels packed into 98 zero bytes
    assert compressed_length(x, binary=True, compressor="zlib") == pytest.approx([expected, expected])


def test_binary_tiff_is_group4_and_simpler_images_are_shorter():
    x = torch.zeros(2, 1, 28, 28)
    x[1, 0, 4:24, 10:18] = (torch.rand(20, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    length = compressed_length(x, binary=True, compressor="tiff")
    with Image.open(io.BytesIO(compressed_bytes(quantise(x, True)[0], True, "tiff"))) as im:
        assert im.info["compression"] == "group4"
    assert length[0] < length[1]


@pytest.mark.parametrize("compressor", [c for c in COMPRESSORS if c in ("tiff", "png", "webp", "jpeg2000")])
@pytest.mark.parametrize("binary", [False, True])
def test_image_compressors_are_lossless(compressor, binary):
    rng = np.random.default_rng(1)
    levels = rng.integers(0, 2, (1, 12, 9)) if binary else rng.integers(0, 256, (1, 12, 9))
    q = levels.astype(np.uint8)
    with Image.open(io.BytesIO(compressed_bytes(q, binary, compressor))) as im:
        back = np.asarray(im.convert("L"))
    assert np.array_equal(back, q[0] * (255 if binary else 1))


def test_quantise_gives_the_levels_the_model_sees():
    x = torch.tensor([0.0, 1 / 255, 0.5, 1.0]).reshape(1, 1, 2, 2)
    assert quantise(x, binary=False).reshape(-1).tolist() == [0, 1, 128, 255]
    assert quantise(torch.tensor([0.0, 1.0]).reshape(1, 1, 1, 2), binary=True).reshape(-1).tolist() == [0, 1]
    with pytest.raises(DataError, match="binary images must hold pixels 0 or 1"):
        quantise(x, binary=True)
    with pytest.raises(DataError, match="expected images of shape"):
        quantise(torch.zeros(3, 3), binary=False)


def test_unknown_compressor_is_one_clear_line():
    with pytest.raises(ConfigError, match="unknown compressor 'gif': expected one of tiff, png"):
        compressed_length(torch.zeros(1, 1, 4, 4), False, "gif")
