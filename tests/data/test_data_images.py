"""load_array_file and load_image_folder on generated arrays and PNG/JPEG folders, good and bad."""

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data.images import load_array_file, load_image_folder
from vaelab.errors import DataError

RNG = np.random.default_rng(2)


def save(path, arr, **kw):
    np.save(path, arr, **kw)
    return path


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((5, 6, 7), (5, 1, 6, 7)),
        ((5, 6, 7, 1), (5, 1, 6, 7)),
        ((5, 6, 7, 3), (5, 3, 6, 7)),
        ((5, 6, 7, 4), (5, 3, 6, 7)),
        ((5, 1, 6, 7), (5, 1, 6, 7)),
        ((5, 3, 6, 7), (5, 3, 6, 7)),
        ((5, 12), (5, 1, 1, 12)),
    ],
)
def test_npy_shapes(tmp_path, shape, expected):
    arr = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    x, y = load_array_file(save(tmp_path / "a.npy", arr))
    assert tuple(x.shape) == expected and x.dtype == torch.float32 and y is None
    if len(shape) == 4 and shape[3] in (3, 4):  # channels-last: check one pixel and that alpha was dropped
        assert x[2, 1, 3, 4].item() == pytest.approx(arr[2, 3, 4, 1] / 255.0)
    assert x.max().item() == pytest.approx(arr[..., :3].max() / 255.0 if shape[-1] == 4 else arr.max() / 255.0)


def test_float_and_bool_kept(tmp_path):
    f = RNG.random((4, 3, 3)).astype(np.float64)
    x, _ = load_array_file(save(tmp_path / "f.npy", f))
    np.testing.assert_allclose(x[:, 0].numpy(), f, rtol=1e-6)
    b = RNG.random((4, 3, 3)) > 0.5
    x, _ = load_array_file(save(tmp_path / "b.npy", b))
    assert set(x.unique().tolist()) == {0.0, 1.0} and x.sum().item() == b.sum()


def test_npz_keys_and_labels(tmp_path):
    imgs = RNG.integers(0, 256, size=(6, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", images=imgs, labels=np.arange(6) % 3)
    x, y = load_array_file(tmp_path / "d.npz")
    assert x.shape == (6, 1, 4, 4) and y.dtype == torch.int64 and y.tolist() == [0, 1, 2, 0, 1, 2]
    np.save(tmp_path / "lab.npy", np.array([5, 4, 3, 2, 1, 0]))
    _, y2 = load_array_file(tmp_path / "d.npz", labels_path=tmp_path / "lab.npy")
    assert y2.tolist() == [5, 4, 3, 2, 1, 0]
    (tmp_path / "lab.txt").write_text("1\n2\n3\n1\n2\n3\n")
    _, y3 = load_array_file(tmp_path / "d.npz", labels_path=tmp_path / "lab.txt")
    assert y3.tolist() == [1, 2, 3, 1, 2, 3]


def test_npz_without_image_key(tmp_path, raises_one_line):
    np.savez(tmp_path / "nokey.npz", foo=np.zeros((2, 2, 2)))
    with raises_one_line(DataError, "nokey.npz", "found foo", "expected images under key 'x'"):
        load_array_file(tmp_path / "nokey.npz")


def test_wrong_label_count(tmp_path, raises_one_line):
    save(tmp_path / "x.npy", np.zeros((4, 2, 2), np.uint8))
    save(tmp_path / "y.npy", np.zeros(3, np.int64))
    with raises_one_line(DataError, "y.npy", "3 labels", "expected 4 non-negative integer labels"):
        load_array_file(tmp_path / "x.npy", tmp_path / "y.npy")


def test_5d_array(tmp_path, raises_one_line):
    p = save(tmp_path / "five_d.npy", np.zeros((2, 3, 4, 5, 6), np.float32))
    with raises_one_line(DataError, "five_d.npy", "(2, 3, 4, 5, 6)", "expected shape (N,H,W)"):
        load_array_file(p)


def test_ambiguous_4d_without_channel_axis(tmp_path, raises_one_line):
    p = save(tmp_path / "c7.npy", np.zeros((2, 7, 4, 5), np.float32))
    with raises_one_line(DataError, "c7.npy", "(2, 7, 4, 5)", "(N,C,H,W) with C in 1/3"):
        load_array_file(p)


def test_nan(tmp_path, raises_one_line):
    arr = RNG.random((3, 4, 4)).astype(np.float32)
    arr[1, 2, 3] = np.nan
    p = save(tmp_path / "nan.npy", arr)
    with raises_one_line(DataError, "nan.npy", "1 NaN", f"max {arr[np.isfinite(arr)].max():g}", "in [0, 1]"):
        load_array_file(p)


def test_out_of_range(tmp_path, raises_one_line):
    arr = np.linspace(-0.5, 2.5, 3 * 16, dtype=np.float32).reshape(3, 4, 4)
    p = save(tmp_path / "range.npy", arr)
    with raises_one_line(DataError, "range.npy", "min -0.5", "max 2.5", "expected uint8 values 0..255"):
        load_array_file(p)
    p = save(tmp_path / "int255.npy", np.full((3, 2, 2), 255, np.int64))
    with raises_one_line(DataError, "int255.npy", "min 255", "max 255"):
        load_array_file(p)


def test_corrupt_and_unsupported_files(tmp_path, raises_one_line):
    (tmp_path / "junk.npy").write_bytes(b"not a numpy file")
    with raises_one_line(DataError, "junk.npy", "cannot read array file", "expected a valid .npy file"):
        load_array_file(tmp_path / "junk.npy")
    (tmp_path / "d.csv").write_text("1,2\n")
    with raises_one_line(DataError, "d.csv", "unsupported file type", "expected a .npy or .npz file"):
        load_array_file(tmp_path / "d.csv")


# ----------------------------------------------------------------------------------------- folders
def write_png(path, arr, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path)


def test_flat_folder_grayscale(tmp_path):
    imgs = [RNG.integers(0, 256, size=(6, 5), dtype=np.uint8) for _ in range(3)]
    for i, a in enumerate(imgs):
        write_png(tmp_path / f"img{i}.png", a)
    (tmp_path / "notes.txt").write_text("ignored")
    x, y, names = load_image_folder(tmp_path)
    assert x.shape == (3, 1, 6, 5) and y is None and names is None
    np.testing.assert_allclose(x[1, 0].numpy(), imgs[1] / 255.0, rtol=1e-6)


def test_class_subfolders_and_rgb(tmp_path):
    write_png(tmp_path / "cat" / "a.png", RNG.integers(0, 256, size=(4, 4), dtype=np.uint8))
    write_png(tmp_path / "cat" / "b.png", RNG.integers(0, 256, size=(4, 4), dtype=np.uint8))
    rgb = RNG.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    write_png(tmp_path / "ant" / "c.png", rgb)
    x, y, names = load_image_folder(tmp_path)
    assert names == ["ant", "cat"] and y.tolist() == [0, 1, 1]
    assert x.shape == (3, 3, 4, 4)  # one RGB image makes every image RGB
    np.testing.assert_allclose(x[0].permute(1, 2, 0).numpy(), rgb / 255.0, rtol=1e-6)
    assert torch.equal(x[1, 0], x[1, 2])  # gray images repeated over the 3 channels


def test_gray_rgb_file_counts_as_gray(tmp_path):
    g = RNG.integers(0, 256, size=(4, 4), dtype=np.uint8)
    write_png(tmp_path / "a.png", np.stack([g, g, g], axis=2))
    Image.fromarray(g).save(tmp_path / "b.jpg", quality=100)
    x, _, _ = load_image_folder(tmp_path)
    assert x.shape == (2, 1, 4, 4)
    np.testing.assert_allclose(x[0, 0].numpy(), g / 255.0, rtol=1e-6)


def test_empty_folder(tmp_path, raises_one_line):
    (tmp_path / "empty").mkdir()
    with raises_one_line(DataError, "empty", "no PNG or JPEG images", "expected a folder of PNG/JPEG images"):
        load_image_folder(tmp_path / "empty")


def test_mixed_sizes_without_and_with_resize(tmp_path, raises_one_line):
    write_png(tmp_path / "a.png", np.zeros((8, 6), np.uint8))
    write_png(tmp_path / "b.png", np.full((8, 6), 255, np.uint8))
    write_png(tmp_path / "c.png", np.full((10, 12), 255, np.uint8))
    with raises_one_line(DataError, "c.png", "10x12", "expected 8x6 like a.png", "image size"):
        load_image_folder(tmp_path)
    x, _, _ = load_image_folder(tmp_path, size=(4, 3))
    assert x.shape == (3, 1, 4, 3)
    assert x[0].max().item() == 0.0 and x[2].min().item() == pytest.approx(1.0)


def test_unreadable_image(tmp_path, raises_one_line):
    write_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with raises_one_line(DataError, "broken.png", "cannot read image", "expected a readable PNG or JPEG image"):
        load_image_folder(tmp_path)


def test_missing_folder(tmp_path, raises_one_line):
    with raises_one_line(DataError, "nowhere", "folder not found", "expected a folder of PNG/JPEG images"):
        load_image_folder(tmp_path / "nowhere")
