"""The HTML report: self-contained (every image a data: URI), its sections, and a real render in Chromium."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaelab.cli.main import main
from vaelab.visualisation.report import build_report, save_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SECTIONS = ("Metrics", "Training curves", "Prior samples", "Reconstructions", "Interpolation", "Latent manifold",
            "Latent map", "Configuration")


@pytest.fixture(scope="module")
def report(digits_run, tmp_path_factory) -> Path:
    (digits_run.run_dir / "eval_test.json").write_text(json.dumps({"split": "test", "log_likelihood": 12.345}))
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(digits_run.run_dir), "--grid", "8", "--out", str(out)]) == 0
    return out


def _images(text: str) -> list[tuple[str, str, bytes]]:
    """(alt, mime, bytes) of every <img> in the report."""
    out = []
    for src, alt in re.findall(r"<img[^>]* src='([^']*)' alt='([^']*)'>", text):
        m = re.fullmatch(r"data:(image/(?:png|gif));base64,([A-Za-z0-9+/=]+)", src)
        assert m, f"image {alt!r} is not embedded: {src[:60]}"
        out.append((alt, m.group(1), base64.b64decode(m.group(2))))
    return out


def test_report_is_self_contained_with_every_section(report, digits_run):
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>")
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in text, section
    assert f"{digits_run.results['elbo']:.2f} ± {digits_run.results['elbo_stderr']:.2f}" in text  # test ELBO
    assert "eval_test.json" in text and "12.345" in text  # evaluation results when they exist
    assert "latent_dim" in text and "hidden" in text  # the config
    images = _images(text)
    assert [alt for alt, _, _ in images] == ["training curves", "samples", "reconstructions", "interpolation strip",
                                            "interpolation GIF", "manifold", "latent map"]
    for alt, mime, data in images:
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == mime.split("/")[1].upper()
            assert im.width > 100 and im.height > 100
    assert not re.search(r"(src|href)=['\"](?!data:)", text)  # no external file or URL


def test_report_of_an_autoencoder_leaves_out_what_needs_a_prior(ae_run, tmp_path):
    text = build_report(ae_run, grid=4)
    assert "<h2>Reconstructions</h2>" in text and "<h2>Latent map</h2>" in text
    assert "<h2>Prior samples</h2>" not in text and "<h2>Latent manifold</h2>" not in text
    assert save_report(ae_run, tmp_path / "ae.html").stat().st_size > 10_000


def test_report_renders_in_chromium(report, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not found: install Debian's chromium (apt-get install chromium) to render "
                    "the report in a real browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                                  "(pip install -e '.[test]')")
    images = {alt: data for alt, _, data in _images(report.read_text())}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
            page.goto(report.resolve().as_uri())
            page.wait_for_load_state("load")
            loaded = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
            assert [a for a, _, _ in loaded] == list(images)
            assert all(done and width > 0 for _, done, width in loaded), loaded  # every image decoded
            box = page.locator("img[alt='samples']").evaluate(
                "e => { e.scrollIntoView(); const r = e.getBoundingClientRect(); "
                "return [r.left + e.clientLeft, r.top + e.clientTop, e.clientWidth, e.clientHeight]; }")
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    with Image.open(shot) as im:
        page_px = np.asarray(im.convert("L"), dtype=np.int16)
    assert page_px.std() > 20 and len(np.unique(page_px)) > 50  # not a blank page
    # the samples grid appears on screen pixel for pixel (displayed at its natural size)
    left, top, width, height = (int(round(v)) for v in box)
    with Image.open(io.BytesIO(images["samples"])) as im:
        expected = np.asarray(im.convert("L"), dtype=np.int16)
    assert (width, height) == (expected.shape[1], expected.shape[0])
    shown = page_px[top:top + height, left:left + width]
    assert shown.shape == expected.shape
    assert np.abs(shown - expected).mean() < 3
