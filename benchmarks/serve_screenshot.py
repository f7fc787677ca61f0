"""Screenshot of the `vaelab serve` page after a scripted visit: hover the map, pick A and B, scrub the
interpolation, sample, upload a test image.

    python benchmarks/serve_screenshot.py RUN docs/images/serve_NAME.png [--width 1400] [--height 1000]

Serves RUN on a free 127.0.0.1 port (stopped at the end) and drives Debian's /usr/bin/chromium with playwright;
it never downloads a browser.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def page_xy(page, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of the map point (x, y)."""
    box = page.locator("#map").bounding_box()
    px, py, w, h = page.evaluate(f"(() => {{ const p = toPx({x}, {y}); const c = document.getElementById('map'); "
                                 "return [p[0], p[1], c.width, c.height]; })()")
    return box["x"] + px * box["width"] / w, box["y"] + py * box["height"] / h


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1000)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from vaelab.serving.app import create_app
    from vaelab.serving.server import background

    app = create_app(args.run)
    service = app.state.service
    m = service.latent_map()
    # two endpoints far apart on the map, and a test image to upload
    a, b = int(np.argmin(m.coords[:, 0] + m.coords[:, 1])), int(np.argmax(m.coords[:, 0] + m.coords[:, 1]))
    c = int(np.argmin(np.abs(m.coords).sum(1)))
    up = Path(tempfile.mkdtemp()) / "upload.png"
    pixels = (m.images[c].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(up)
    with background(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            page.click("#pick-a")
            page.mouse.click(*page_xy(page, *m.coords[a]))
            page.click("#pick-b")
            page.mouse.click(*page_xy(page, *m.coords[b]))
            page.wait_for_function("document.querySelectorAll('#interp-strip img').length === 9", timeout=20_000)
            page.locator("#interp-t").fill("0.35")
            page.click("#sample-btn")
            page.wait_for_function("document.querySelectorAll('#samples img').length === 16", timeout=20_000)
            page.set_input_files("#upload", str(up))
            page.wait_for_selector("#upload-score-value", timeout=60_000)
            x0, y0 = m.coords.min(0)
            x1, y1 = m.coords.max(0)
            for t in np.linspace(0.2, 0.7, 15):  # sweep over the map: the decoded image follows
                page.mouse.move(*page_xy(page, x0 + t * (x1 - x0), y0 + (1 - t) * (y1 - y0)))
                time.sleep(0.03)
            time.sleep(0.5)
            print(page.text_content("#rtt"))
            data = page.screenshot(full_page=True)
        finally:
            browser.close()
    img = Image.open(io.BytesIO(data)).convert("RGB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    img.save(args.out, optimize=True)
    print(f"wrote {args.out} ({img.width}x{img.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
