"""One self-contained HTML report of a run: config, metrics, curves, samples, reconstructions, interpolation,
manifold and latent map, every image embedded as a data: URI (no other file is needed to view it)."""

from __future__ import annotations

import base64
import html
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import torch

import vaelab
from vaelab.runs.files import CONFIG, METRICS, RESULTS
from vaelab.runs.data import condition_labels
from vaelab.runs.run import Run
from vaelab.utils.atomic import write_text_atomic
from vaelab.visualisation.canvas import figure_png, gif_bytes, png_bytes
from vaelab.visualisation.common import as_run, default_path, pick, run_dataset

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em} td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top} th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0} figcaption{font-size:.85em;color:#555;max-width:900px}
img{max-width:100%;border:1px solid #eee} img.px{image-rendering:pixelated} .muted{color:#777}
.cols{display:flex;flex-wrap:wrap;gap:2em}
"""


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) if len(value) <= 12 else f"[{len(value)} values]"
    return str(value)


def flatten(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as (dotted key, value) rows."""
    if isinstance(doc, dict):
        rows: list[tuple[str, Any]] = []
        for k, v in doc.items():
            rows += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    return [(prefix, doc)]


def table(rows: list[tuple[str, Any]], head: tuple[str, str] = ("key", "value")) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td class='{'num' if isinstance(v, (int, float)) else ''}'>"
        f"{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    return f"<table><tr><th>{html.escape(head[0])}</th><th>{html.escape(head[1])}</th></tr>{body}</table>"


def figure(data: bytes, mime: str, caption: str, alt: str, pixels: bool = False) -> str:
    """An embedded image with a caption; ``pixels``: an image grid, scaled without smoothing."""
    cls = " class='px'" if pixels else ""
    return (f"<figure><img{cls} src='{data_uri(data, mime)}' alt='{html.escape(alt)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def metrics_rows(run: Run) -> list[tuple[str, Any]]:
    """The test metrics of results.json and the last epoch's train/valid ELBO."""
    rows: list[tuple[str, Any]] = []
    res = run.results or {}
    for key, name in (("elbo", "test ELBO (nats)"), ("reconstruction", "test reconstruction E_q log p(x|z)"),
                      ("kl", "test KL(q || p)")):
        if key in res:
            err = res.get(f"{key}_stderr")
            rows.append((name, f"{res[key]:.2f} ± {err:.2f}" if isinstance(err, float) else res[key]))
    for key in ("n", "best_epoch", "epochs_run", "stopped_early"):
        if key in res:
            rows.append((f"test {key}" if key == "n" else key, res[key]))
    if run.metrics:
        last = run.metrics[-1]
        for key in ("train_elbo", "valid_elbo", "train_reconstruction", "valid_reconstruction"):
            if key in last:
                rows.append((f"last epoch {key}", last[key]))
        secs = [m.get("seconds") for m in run.metrics if m.get("seconds") is not None]
        if secs:
            rows.append(("seconds per epoch (median)", sorted(secs)[len(secs) // 2]))
    return rows


def evaluation_results(run_dir: Path) -> list[tuple[str, dict]]:
    """Other JSON result files in the run directory and its sub-folders (e.g. written by vaelab eval or
    anomaly-eval): (relative path, content)."""
    skip = {CONFIG, RESULTS}
    out = []
    for path in sorted(list(run_dir.glob("*.json")) + list(run_dir.glob("*/*.json"))):
        if path.name in skip and path.parent == run_dir:
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(doc, dict):
            out.append((str(path.relative_to(run_dir)), doc))
    return out


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def build_report(run: Run | str | Path, seed: int = 0, n_samples: int = 64, n_recon: int = 16, grid: int = 20,
                 steps: int = 10, latent_limit: int = 3000, compare: Sequence[str | Path] = ()) -> str:
    """The report's HTML text (every image embedded); ``compare``: other run directories for a comparison
    section (the table of vaelab compare and the curves overlaid)."""
    from vaelab.visualisation.curves import curves_figure
    from vaelab.visualisation.interpolation import gif_frames, interpolate, interpolation_title, strip_figure
    from vaelab.visualisation.latents import latent_map, latent_map_figure
    from vaelab.visualisation.manifold import latent_activity, manifold_figure
    from vaelab.visualisation.reconstructions import reconstructions_figure
    from vaelab.visualisation.samples import samples_figure

    run = as_run(run)
    model, mc = run.model, run.model_config
    is_vae = model.has_density
    data = run_dataset(run)
    test, labels = data.test, data.test_labels
    cond = condition_labels(model, data, "test")  # the labels a conditional model is given, else None
    name = data.name
    parts: list[str] = []
    parts.append(f"<h1>vaelab report: {html.escape(Path(run.run_dir).name)}</h1>"
                 f"<p class='muted'>{html.escape(str(Path(run.run_dir).resolve()))} &middot; data set "
                 f"{html.escape(name)} {html.escape('x'.join(map(str, mc.image_shape)))} ({data.kind}) &middot; "
                 f"{mc.kind.upper()}, {mc.arch}, latent {mc.latent_dim}, {html.escape(mc.likelihood)} likelihood "
                 f"&middot; written {datetime.now():%Y-%m-%d %H:%M} by vaelab {vaelab.__version__}</p>")

    # --- metrics and evaluation results ---------------------------------------------------------
    body = table(metrics_rows(run), ("metric", "value")) if (run.results or run.metrics) else \
        "<p class='muted'>no results.json or metrics.jsonl yet</p>"
    for rel, doc in evaluation_results(Path(run.run_dir)):
        body += f"<h3>{html.escape(rel)}</h3>" + table([(k, v) for k, v in flatten(doc)
                                                        if not isinstance(v, list) or len(v) <= 12])
    parts.append(_section("Metrics", body))

    # --- curves ----------------------------------------------------------------------------------
    if run.metrics:
        parts.append(_section("Training curves", figure(
            figure_png(curves_figure([run])), "image/png",
            f"train (dashed) and valid (solid) ELBO, reconstruction and KL per epoch ({METRICS})", "training curves")))

    # --- samples ---------------------------------------------------------------------------------
    if is_vae:
        img = samples_figure(model, n_samples, 1.0, True, seed)
        parts.append(_section("Prior samples", figure(png_bytes(img), "image/png",
                                                      f"{n_samples} decoder means E[x|z] of z ~ p(z)", "samples",
                                                      pixels=True)))

    # --- reconstructions -------------------------------------------------------------------------
    idx = pick(test.shape[0], n_recon, seed)
    img = reconstructions_figure(model, test[idx], 8, f"{idx.numel()} test examples (rows 1, 3, ...) above their "
                                                      "reconstructions E[x|z = mu(x)] (rows 2, 4, ...)",
                                 None if cond is None else cond[idx])
    parts.append(_section("Reconstructions", figure(png_bytes(img), "image/png",
                                                    "test examples above their reconstructions", "reconstructions",
                                                    pixels=True)))

    # --- interpolation ---------------------------------------------------------------------------
    if is_vae and test.shape[0] >= 2:
        order = pick(test.shape[0], test.shape[0], seed + 1)
        i = int(order[0])
        j = next((int(k) for k in order[1:] if labels is None or labels[k] != labels[i]), int(order[1]))
        path = interpolate(model, test[i], test[j], steps,
                           labels=None if cond is None else (int(cond[i]), int(cond[j])))
        strip = strip_figure(test[i], test[j], path, interpolation_title(path, f"test #{i}", f"test #{j}"))
        body = figure(png_bytes(strip), "image/png", "linear interpolation between two test examples",
                      "interpolation strip", pixels=True)
        body += figure(gif_bytes(gif_frames(path)), "image/gif", "the same path as an animation", "interpolation GIF",
                       pixels=True)
        parts.append(_section("Interpolation", body))

    # --- manifold ---------------------------------------------------------------------------------
    sub_idx = pick(test.shape[0], latent_limit, seed)  # the examples of the activity and the latent map
    sub = test[sub_idx]
    sub_y = None if cond is None else cond[sub_idx]
    if is_vae and len(model.latent_layers) == 1:
        img = manifold_figure(model, grid, sub if mc.latent_dim > 2 else None, y=sub_y)
        parts.append(_section("Latent manifold", figure(
            png_bytes(img), "image/png", "decoded inverse-CDF grid (Kingma & Welling Fig. 4)", "manifold",
            pixels=True)))

    # --- latent map ------------------------------------------------------------------------------
    lmap = latent_map(model, sub, None if labels is None else labels[sub_idx], data.class_names, "auto", seed)
    parts.append(_section("Latent map", figure(figure_png(latent_map_figure(lmap, seed=seed)), "image/png",
                                               "posterior means of test examples", "latent map")))
    if is_vae and mc.latent_dim > 1:
        act = latent_activity(model, sub, sub_y)
        active = int((act > 0.01).sum())
        parts[-1] = parts[-1].replace("</section>", f"<p>Active units (variance of E[z_d|x] over {sub.shape[0]} test "
                                      f"examples &gt; 0.01): {active} of {mc.latent_dim}.</p></section>")

    # --- anomaly ROC, when anomaly-eval has run ---------------------------------------------------
    roc = Path(run.run_dir) / "anomaly" / "roc.png"
    if roc.is_file():
        try:  # the method the ROC is of (runs evaluated before --method existed: -log p(x))
            method = json.loads((roc.parent / "anomaly.json").read_text()).get("method", "nll")
        except (OSError, json.JSONDecodeError, AttributeError):
            method = "nll"
        what = "-log p(x)" if method == "nll" else f"the {method} score"
        parts.append(_section("Anomaly detection", figure(roc.read_bytes(), "image/png",
                                                          f"ROC of {what} (vaelab anomaly-eval)", "ROC curve")))

    # --- comparison with other runs, when asked -------------------------------------------------------
    if compare:
        parts.append(_section("Comparison", comparison_html([run.run_dir, *compare])))

    # --- configuration ---------------------------------------------------------------------------
    body = "<div class='cols'><div><h3>model</h3>" + table(flatten(mc.to_dict())) + "</div>"
    body += "<div><h3>training</h3>" + table(flatten(run.config.to_dict())) + "</div>"
    body += "<div><h3>data</h3>" + table([(k, v) for k, v in flatten(run.data_info)
                                          if not str(k).startswith("source.files")]) + "</div></div>"
    parts.append(_section("Configuration", body))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>vaelab report: {html.escape(Path(run.run_dir).name)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")


def comparison_html(run_dirs: Sequence[str | Path]) -> str:
    """The comparison table (vaelab compare), its paired notes and the runs' curves overlaid, as HTML."""
    from vaelab.runs.compare import HEADER, compare_runs, row_cells
    from vaelab.visualisation.curves import curves_figure

    rows, notes = compare_runs(run_dirs)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row_cells(r)) + "</tr>" for r in rows)
    out = f"<table><tr>{head}</tr>{body}</table>"
    out += "".join(f"<p>{html.escape(n.text())}</p>" for n in notes)
    runs = [as_run(r) for r in run_dirs]
    if all(r.metrics for r in runs):
        out += figure(figure_png(curves_figure(runs)), "image/png", "the runs' curves overlaid (valid solid, train "
                      "dashed)", "comparison curves")
    return out


@torch.no_grad()
def save_report(run: Run | str | Path, out: str | Path | None = None, **options: Any) -> Path:
    """Write the report (default RUN/report.html) atomically; returns the path. ``options`` go to build_report."""
    run = as_run(run)
    path = default_path(run, "report.html", out)
    write_text_atomic(path, build_report(run, **options))
    return path
