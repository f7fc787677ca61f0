"""Pillow canvases: a title band above an image, PNG/GIF encoding, atomic saving, and matplotlib (Agg) figures.

Every figure vaelab writes goes through here, so every file is written atomically and the report can
embed the same bytes the commands write.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vaelab.utils.atomic import write_bytes_atomic

TITLE_FONT_SIZE = 14
TITLE_PAD = 6  # pixels above and below the title text
MIN_TITLED_WIDTH = 360  # a titled figure is at least this wide (the image is centred) so the title stays legible


def font(size: int = TITLE_FONT_SIZE) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font at ``size`` pixels (a bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def to_image(array: np.ndarray | Image.Image) -> Image.Image:
    """A uint8 array (H, W) or (H, W, 3) as a Pillow image ('L' or 'RGB')."""
    return array if isinstance(array, Image.Image) else Image.fromarray(np.asarray(array, dtype=np.uint8))


def _wrap(title: str, fnt: Any, width: int) -> list[str]:
    """Lines of ``title`` (explicit newlines kept) that each fit in ``width`` pixels when drawn in ``fnt``."""
    lines: list[str] = []
    for para in title.split("\n"):
        chars = max(8, len(para))
        while chars > 8 and any(fnt.getlength(line) > width for line in textwrap.wrap(para, chars) or [""]):
            chars -= 2
        lines += textwrap.wrap(para, chars) or [""]
    return lines


def title_band_height(title: str, width: int, size: int = TITLE_FONT_SIZE) -> int:
    """Height in pixels of the band ``with_title`` puts above an image of ``width`` (>= MIN_TITLED_WIDTH)."""
    fnt = font(size)
    line_h = _line_height(fnt)
    return 2 * TITLE_PAD + line_h * len(_wrap(title, fnt, max(width, MIN_TITLED_WIDTH) - 2 * TITLE_PAD))


def _line_height(fnt: Any) -> int:
    top, bottom = fnt.getbbox("Ag")[1::2]
    return int(bottom - min(top, 0)) + 3


def with_title(image: np.ndarray | Image.Image, title: str, size: int = TITLE_FONT_SIZE) -> Image.Image:
    """``image`` below a white band holding ``title`` (wrapped to the width); narrow images are centred on a
    canvas MIN_TITLED_WIDTH wide. The image's pixels are unchanged."""
    img = to_image(image)
    width = max(img.width, MIN_TITLED_WIDTH)
    band = title_band_height(title, width, size)
    white = 255 if img.mode == "L" else (255, 255, 255)
    canvas = Image.new(img.mode, (width, band + img.height), white)
    canvas.paste(img, ((width - img.width) // 2, band))
    draw = ImageDraw.Draw(canvas)
    fnt = font(size)
    line_h = _line_height(fnt)
    for i, line in enumerate(_wrap(title, fnt, width - 2 * TITLE_PAD)):
        draw.text((TITLE_PAD, TITLE_PAD + i * line_h), line, fill=0 if img.mode == "L" else (0, 0, 0), font=fnt)
    return canvas


def png_bytes(image: np.ndarray | Image.Image) -> bytes:
    """The PNG encoding of ``image``."""
    buf = io.BytesIO()
    to_image(image).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def gif_bytes(frames: Sequence[np.ndarray | Image.Image], duration_ms: int = 120, pingpong: bool = True) -> bytes:
    """An endlessly looping animated GIF of ``frames`` (played forth and, with ``pingpong``, back)."""
    imgs = [to_image(f) for f in frames]
    if pingpong and len(imgs) > 2:
        imgs = imgs + imgs[-2:0:-1]
    if imgs[0].mode != "L":
        imgs = [im.convert("P", palette=Image.Palette.ADAPTIVE, colors=256) for im in imgs]
    buf = io.BytesIO()
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=duration_ms, loop=0,
                 optimize=False, disposal=1)
    return buf.getvalue()


def save_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically (creating the folder); returns the path."""
    write_bytes_atomic(path, data)
    return Path(path)


def save_png(image: np.ndarray | Image.Image, path: str | Path) -> Path:
    """Write ``image`` as a PNG file atomically; returns the path."""
    return save_bytes(png_bytes(image), path)


def new_figure(width: float, height: float, dpi: int = 100) -> Any:
    """A matplotlib Figure drawn by the Agg canvas (no pyplot, so no global backend or state is touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Any) -> bytes:
    """The PNG encoding of a matplotlib figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()
