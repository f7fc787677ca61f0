"""The latent-explorer page in a real browser: Debian's Chromium driven by Playwright, the app on a free
127.0.0.1 port. Skipped, with the reason, where /usr/bin/chromium or the playwright package is missing."""

from __future__ import annotations

import base64
import io
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaelab.serving.server import background

CHROMIUM = Path(os.environ.get("VAELAB_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: the browser test needs Debian's chromium (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs the playwright package")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_page(browser):
    """open_page(url) -> page, with console errors collected in page.errors; closed after the test."""
    pages = []

    def opener(url: str):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


def png_pixels(src: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))


def map_point_on_page(page, i: int) -> tuple[float, float]:
    """Page coordinates of map point i (the page's own transform, scaled from canvas to CSS pixels)."""
    box = page.locator("#map").bounding_box()
    px, py, w, h = page.evaluate(f"(() => {{ const p = toPx(S.map.x[{i}], S.map.y[{i}]); "
                                 "const c = document.getElementById('map'); "
                                 "return [p[0], p[1], c.width, c.height]; })()")
    return box["x"] + px * box["width"] / w, box["y"] + py * box["height"] / h


def far_apart(page) -> tuple[int, int]:
    """Two map points far apart (the left-most and the right-most)."""
    xs = page.evaluate("S.map.x")
    return int(np.argmin(xs)), int(np.argmax(xs))


def wait_src_change(page, selector: str, old: str | None) -> str:
    page.wait_for_function("([s, old]) => { const e = document.querySelector(s); return e.src && e.src !== old; }",
                           arg=[selector, old or ""], timeout=10_000)
    return page.get_attribute(selector, "src")


def test_page_explores_the_latent_space(app2, open_page, tmp_path, h, run2):
    from vaelab.runs import load_data

    with background(app2) as url:
        page = open_page(url)
        assert page.evaluate("S.map.n") == 270 and "posterior means" in page.text_content("#map-method")
        assert page.locator("#legend span").count() == 10 and page.locator("#sliders input").count() == 2

        # move over two points of the map: the decoded image follows
        a, b = far_apart(page)
        first = page.get_attribute("#decoded", "src")
        page.mouse.move(*map_point_on_page(page, a))
        src_a = wait_src_change(page, "#decoded", first)
        page.mouse.move(*map_point_on_page(page, b), steps=5)
        # intermediate mouse positions may be decoded first: wait until the decoded z is the one under b
        xb, yb = page.evaluate(f"[S.map.x[{b}], S.map.y[{b}]]")
        tol = 0.1 * (max(page.evaluate("S.map.x")) - min(page.evaluate("S.map.x")))
        page.wait_for_function("([x, y, tol]) => { const d = document.getElementById('decoded').dataset.z; "
                               "if (!d) return false; const z = d.split(',').map(Number); "
                               "return Math.hypot(z[0] - x, z[1] - y) < tol; }", arg=[xb, yb, tol], timeout=10_000)
        src_b = page.get_attribute("#decoded", "src")
        img_a, img_b = png_pixels(src_a), png_pixels(src_b)
        assert img_a.shape == img_b.shape == (8, 8)
        assert np.abs(img_a.astype(int) - img_b.astype(int)).max() > 30  # a different digit, not noise
        z = [float(v) for v in page.get_attribute("#decoded", "data-z").split(",")]
        assert math.dist(z, (xb, yb)) < tol

        # a slider moves one coordinate
        before = page.get_attribute("#decoded", "src")
        page.mouse.move(5, 5)  # off the map: back to the pinned z
        page.locator("#z0").fill("3")
        wait_src_change(page, "#decoded", before)
        assert page.text_content("#z0-val") == "3.00"

        # sample
        page.click("#sample-btn")
        page.wait_for_function("document.querySelectorAll('#samples img').length === 16", timeout=10_000)
        srcs = [page.get_attribute(f"#samples img:nth-child({i + 1})", "src") for i in range(16)]
        assert len(set(srcs)) > 8

        # interpolation between two test points picked on the map
        page.click("#pick-a")
        page.mouse.click(*map_point_on_page(page, a))
        page.wait_for_function("S.ends.a !== null", timeout=10_000)
        page.click("#pick-b")
        page.mouse.click(*map_point_on_page(page, b))
        page.wait_for_function("document.querySelectorAll('#interp-strip img').length === 9", timeout=10_000)
        strip = [png_pixels(page.get_attribute(f"#interp-strip img:nth-child({i + 1})", "src")) for i in (0, 8)]
        assert np.abs(strip[0].astype(int) - strip[1].astype(int)).max() > 30
        old = page.get_attribute("#interp-img", "src")
        page.locator("#interp-t").fill("0.9")
        wait_src_change(page, "#interp-img", old)
        assert page.text_content("#interp-t-val") == "0.90"

        # upload a test digit: its reconstruction and anomaly score
        digit = (load_data(run2.config).test[3, 0].numpy() * 255).round().astype(np.uint8)
        path = tmp_path / "digit.png"
        Image.fromarray(digit).resize((32, 32), Image.NEAREST).save(path)  # another size: resized by the server
        page.set_input_files("#upload", str(path))
        page.wait_for_selector("#upload-score-value", timeout=15_000)
        score = float(page.text_content("#upload-score-value"))
        assert math.isfinite(score) and page.get_attribute("#upload-recon", "src").startswith("data:image/png")
        assert png_pixels(page.get_attribute("#upload-input", "src")).shape == (8, 8)
        # the same upload scored by another method picked in the panel
        from vaelab.runs.anomaly_config import DEFAULT_METHOD

        assert page.get_attribute("#upload-score", "data-method") == DEFAULT_METHOD
        options = page.eval_on_selector_all("#score-method option", "os => os.map(o => o.value)")
        assert options == ["nll", "complexity", "typicality", "regret"]
        page.select_option("#score-method", "nll")
        page.wait_for_function("document.getElementById('upload-score').dataset.method === 'nll'", timeout=15_000)
        nll = float(page.text_content("#upload-score-value"))
        assert math.isfinite(nll) and nll != score and "-log p(x)" in page.text_content("#upload-score")

        assert page.errors == [], page.errors
        # a bad upload says why (the browser logs the 422 answer as a failed load)
        bad = tmp_path / "notes.png"
        bad.write_text("not an image")
        page.set_input_files("#upload", str(bad))
        page.wait_for_function("document.getElementById('status').className === 'error'", timeout=10_000)
        assert "not an image" in page.text_content("#status")

        median = float(page.get_attribute("#rtt", "data-median"))
        count = int(page.get_attribute("#rtt", "data-count"))
        assert count >= 5 and median < 50, page.text_content("#rtt")

        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=True)
        pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
        assert pixels.std() > 20 and len(np.unique(pixels[::7], axis=0)) > 200  # not blank
        assert all("422" in e for e in page.errors), page.errors


def test_page_with_a_pca_map_has_a_slider_per_dimension(app8, open_page):
    with background(app8) as url:
        page = open_page(url)
        assert page.locator("#sliders input").count() == 8
        assert "PCA" in page.text_content("#map-method") and "PC1" in page.text_content("#map-axes")
        before = page.get_attribute("#decoded", "src")
        page.locator("#z5").fill("-3")
        after = wait_src_change(page, "#decoded", before)
        assert png_pixels(after).shape == (8, 8)
        z = [float(v) for v in page.get_attribute("#decoded", "data-z").split(",")]
        assert len(z) == 8 and z[5] == -3.0
        # hovering the PCA map sets all 8 coordinates to the point of latent space shown there
        page.mouse.move(*map_point_on_page(page, 0))
        page.wait_for_function("document.getElementById('decoded').dataset.z.split(',')[5] !== '-3.0000'",
                               timeout=10_000)
        z = np.array([float(v) for v in page.get_attribute("#decoded", "data-z").split(",")])
        mu0 = np.array(page.evaluate("fromPlane(S.map.x[0], S.map.y[0])"))
        assert np.abs(z - mu0).max() < 0.5
        assert page.errors == [], page.errors


def test_class_picker_of_a_conditional_model_decodes_the_chosen_class(open_page, tmp_path):
    """A conditional VAE's page shows a class picker; choosing a class re-decodes the same z in that class."""
    from vaelab.runs.config import TrainConfig
    from vaelab.serving.app import create_app
    from vaelab.training.loop import train

    run = train(TrainConfig.from_dict(dict(dataset="digits", hidden=(64,), latent_dim=2, batch_size=64, epochs=5,
                                           device="cpu", warmup_epochs=0, condition="label",
                                           out=str(tmp_path / "cvae"))), quiet=True)
    with background(create_app(run.run_dir)) as url:
        page = open_page(url)
        assert page.is_visible("#class-picker")
        assert page.locator("#class-picker option").count() == 10
        first = wait_src_change(page, "#decoded", None)
        page.select_option("#class-picker", "7")
        seven = wait_src_change(page, "#decoded", first)
        assert not np.array_equal(png_pixels(first), png_pixels(seven))  # same z, another class
        assert page.evaluate("S.label") == 7
        assert page.errors == []
