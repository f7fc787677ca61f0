"""Screenshot an HTML file (a vaelab report) in Debian's headless Chromium, driven by playwright.

    python benchmarks/screenshot.py RUN/report.html OUT.png [--width 1280] [--height 2400] [--scale 0.5]

Needs /usr/bin/chromium (apt-get install chromium) and the playwright package; it never downloads a browser.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

from vaelab.visualisation.canvas import save_png

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def screenshot(html: Path, out: Path, width: int = 1280, height: int = 2400, scale: float = 0.5) -> Path:
    """The top ``height`` pixels of the page at ``width``, scaled by ``scale``, as an optimised PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(html.resolve().as_uri())
            page.wait_for_load_state("load")
            data = page.screenshot(full_page=False)
        finally:
            browser.close()
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    return save_png(img.quantize(colors=128), out)  # atomic write


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("html", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=2400)
    p.add_argument("--scale", type=float, default=0.5)
    a = p.parse_args()
    print(f"wrote {screenshot(a.html, a.out, a.width, a.height, a.scale)}")


if __name__ == "__main__":
    main()
