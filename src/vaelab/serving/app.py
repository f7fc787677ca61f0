"""The FastAPI app: the latent-explorer page (static files) and the JSON API over a ``ModelService``.

``create_app(run_dir or Run, limits)`` builds it. Refused requests get a 4xx with a one-line ``detail``
that says what was expected: 413 for a body over the limit (refused by ``RequestGuard`` before it is read
in full), 415 for a body that is not JSON, 408 for a body that does not arrive in time, 422 for a body that
does not fit the request schema or images that do not fit the model, 404 for what does not exist, 400 for
what the run's model cannot do.
"""

# no `from __future__ import annotations`: FastAPI reads the per-app request classes from the annotations
import asyncio
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from vaelab.data.dataset import Dataset
from vaelab.data.pixel_model import IndependentPixels
from vaelab.errors import VaelabError
from vaelab.serving import images as imgs
from vaelab.serving.limits import Limits
from vaelab.serving.schemas import (DecodeResponse, EncodeResponse, ErrorResponse, InfoResponse, LatentMapResponse,
                                    PointResponse, SampleResponse, ScoreResponse, StatsResponse, request_models)
from vaelab.serving.service import ModelService, NotAvailable, NotSupported
from vaelab.runs.anomaly_scores import resolve_background
from vaelab.runs.run import Run, load

STATIC_DIR = Path(__file__).resolve().parent / "static"
JSON_TYPES = ("application/json",)


def _error(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


class RequestGuard:
    """ASGI middleware: refuses a body over ``max_bytes`` (413) without reading it all, a POST body to
    /api/ that is not JSON (415), and a body that has not arrived after ``timeout_s`` (408). The body it
    read is replayed to the app."""

    def __init__(self, app: Callable, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = f"the limit is {self.max_bytes} bytes (send fewer or smaller images per request)"
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await _error(400, f"bad Content-Length header {length!r} (expected a byte count)")(scope, receive, send)
                return
            if int(length) > self.max_bytes:
                await _error(413, f"request body of {int(length)} bytes is too large: {limit}")(scope, receive, send)
                return
        has_body = (length is not None and int(length) > 0) or "chunked" in headers.get("transfer-encoding", "")
        if has_body and scope["method"] == "POST" and scope["path"].startswith("/api/"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype not in JSON_TYPES and not ctype.endswith("+json"):
                await _error(415, f"body of type {ctype or 'unknown (no Content-Type)'}: expected a JSON body with "
                                  "Content-Type: application/json")(scope, receive, send)
                return
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except asyncio.TimeoutError:
                await _error(408, f"the request body did not arrive within {self.timeout_s:g} s")(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await _error(413, f"request body of more than {self.max_bytes} bytes: {limit}")(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


JSON_NAMES = {"int": "number", "float": "number", "NoneType": "null", "dict": "object", "bool": "boolean"}


def _where(loc: list[Any]) -> str:
    """'z[0][1]' for the pydantic error location ['z', 0, 1] (without its 'body' prefix)."""
    text = loc[0] if loc and isinstance(loc[0], str) else "body"
    return text + "".join(f"[{p}]" for p in loc[1:] if isinstance(p, int))


def _item_problem(item: Any, errs: list[dict[str, Any]], shapes: list[tuple[int, ...]]) -> str:
    """Why one element of ``images`` fits none of its forms: a base64 string, (C, H, W) or (H, W) pixel lists."""
    if isinstance(item, str):
        return next((e["msg"] for e in errs if e["loc"][3:4] == ["str"]), errs[0]["msg"])
    if not isinstance(item, list):
        kind = JSON_NAMES.get(type(item).__name__, type(item).__name__)
        return f"a JSON {kind}, not a base64 image string nor nested lists of pixel values"
    try:
        shape = np.asarray(item, dtype=np.float64).shape
    except (ValueError, TypeError):
        return "nested lists that are not a rectangular array of numbers"
    if shape not in shapes:
        return f"pixel lists of shape {shape}, but the model takes {' or '.join(str(s) for s in shapes)}"
    depth = len(shape) + 4  # body, images, i, branch, then one index per axis
    inner = [e for e in errs if len(e["loc"]) == depth] or errs
    loc = [p for p in inner[0]["loc"][2:] if isinstance(p, int)]
    return f"pixel {tuple(loc[1:])}: {inner[0]['msg']}"


def validation_detail(errors: list[dict[str, Any]], expected: dict[str, str], body: Any = None,
                      image_shape: tuple[int, int, int] | None = None, keys: list[str] | None = None) -> str:
    """One line from pydantic's errors: where and what, then the expected form of each field involved."""
    groups: dict[str, list[dict[str, Any]]] = {}
    fields: list[str] = []
    for e in errors:
        loc = list(e.get("loc", ()))
        rest = loc[1:] if loc and loc[0] in ("body", "path", "query") else loc
        if e.get("type") == "json_invalid":
            err = (e.get("ctx") or {}).get("error", "invalid")
            return f"the body is not valid JSON ({err} at character {rest[0] if rest else '?'}): expected a JSON object"
        union = len(rest) >= 3 and rest[0] == "images" and isinstance(rest[1], int) and isinstance(rest[2], str)
        groups.setdefault(_where(rest[:2] if union else rest), []).append({**e, "loc": loc, "_union": union})
        if rest and isinstance(rest[0], str) and rest[0] not in fields:
            fields.append(rest[0])
    shapes: list[tuple[int, ...]] = []
    if image_shape is not None:
        shapes = [tuple(image_shape)] + ([tuple(image_shape[1:])] if image_shape[0] == 1 else [])
    parts = []
    for where, errs in list(groups.items())[:3]:
        if errs[0]["_union"]:
            i = [p for p in errs[0]["loc"] if isinstance(p, int)][0]
            images = body.get("images") if isinstance(body, dict) else None
            item = images[i] if isinstance(images, list) and i < len(images) else None
            parts.append(f"{where}: {_item_problem(item, errs, shapes)}")
        elif where == "body":
            parts.append(f"body: {errs[0]['msg']} (expected a JSON object)")
        elif errs[0].get("type") == "extra_forbidden":
            parts.append(f"{where}: unknown key" + (f" (the keys are {', '.join(keys)})" if keys else ""))
        else:
            parts.append(f"{where}: {errs[0]['msg']}")
    if len(groups) > 3:
        parts.append(f"... and {len(groups) - 3} more")
    hints = [expected[f] for f in fields if f in expected]
    return "; ".join(parts) + (f" (expected: {'; '.join(hints)})" if hints else "")


ERRORS = {status: {"model": ErrorResponse, "description": text} for status, text in [
    (400, "the run's model cannot do this, or a malformed request"), (408, "the body did not arrive in time"),
    (413, "the body is over the size limit"), (415, "the body is not JSON"),
    (422, "the body does not fit the schema, or an image does not fit the model")]}
NOT_FOUND = {404: {"model": ErrorResponse, "description": "no such point, or no latent map for this run"}}
BAD_INDEX = {422: {"model": ErrorResponse, "description": "the point index is not an integer"}}


def create_app(run: Run | str | Path, limits: Limits | None = None, *,
               data: Dataset | Callable[[], Dataset] | None = None, device: str = "cpu",
               background: Run | IndependentPixels | str | Path | None = None) -> FastAPI:
    """The app serving ``run`` (a Run or a run directory); ``data`` replaces the run's data set for the map (and
    typicality's H); ``background`` (a background run, vaelab train --background-of, or "pixels": the run's
    independent-pixel background) offers the ratio score."""
    run = run if isinstance(run, Run) else load(run, device=device)
    background = resolve_background(run, background, device)
    limits = limits or Limits()
    service = ModelService(run, limits, data, background)
    shape = service.image_shape
    methods = service.score_methods or ("nll",)
    models = request_models(service.latent_dim, shape, limits, service.n_classes, methods,
                            service.default_score_method)
    DecodeRequest, EncodeRequest = models.decode, models.encode
    SampleRequest, ScoreRequest = models.sample, models.score
    request_classes = {"/api/decode": DecodeRequest, "/api/encode": EncodeRequest, "/api/sample": SampleRequest,
                       "/api/score": ScoreRequest}

    app = FastAPI(title="vaelab model server", version=service.info()["version"], docs_url=None, redoc_url=None,
                  description=f"A variational auto-encoder ({Path(run.run_dir).name}: {run.config.dataset}, "
                              f"latent dimension {service.latent_dim}, {imgs.shape_text(shape)} images, "
                              f"{service.likelihood} likelihood): decode, encode, sample, score, latent map.")
    app.state.service = service
    app.state.limits = limits
    app.add_middleware(RequestGuard, max_bytes=limits.max_body_bytes, timeout_s=limits.body_timeout_s)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [p if isinstance(p, (int, str)) else str(p) for p in e.get("loc", ())],
                   "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in exc.errors()[:20]]
        model = request_classes.get(request.url.path)
        keys = list(model.model_fields) if model is not None else None
        try:
            detail = validation_detail(list(exc.errors()), models.expected, exc.body, shape, keys)
        except Exception:  # a message must never turn a 422 into a 500
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:3])
        return _error(422, detail, errors)

    @app.exception_handler(NotAvailable)
    async def _not_available(request: Request, exc: NotAvailable) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(NotSupported)
    async def _not_supported(request: Request, exc: NotSupported) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(VaelabError)
    async def _user_error(request: Request, exc: VaelabError) -> JSONResponse:
        return _error(422, str(exc))

    def images_out(x: torch.Tensor, fmt: str) -> list[Any]:
        return imgs.to_base64_png(x) if fmt == "png" else imgs.to_arrays(x)

    def timed(response: Response, ms: float) -> None:
        response.headers["Server-Timing"] = f"model;dur={ms:.3f}"

    def model_input(items: list[Any], resize: bool, binarize: bool, need_binary: bool = False) -> torch.Tensor:
        return imgs.to_model_input(items, shape, max_pixels=limits.max_upload_pixels, resize=resize,
                                   binarize=binarize, need_binary=need_binary)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/info", response_model=InfoResponse, response_model_by_alias=True,
             summary="Model config, latent dimension, image shape, likelihood, test results and limits")
    def info() -> dict[str, Any]:
        return service.info()

    @app.post("/api/decode", response_model=DecodeResponse, responses=ERRORS,
              summary="Decode latent vectors z (B, D) into images (the decoder mean E[x|z])")
    def decode(req: DecodeRequest, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
        x, ms = service.decode(np.asarray(req.z, dtype=np.float64), getattr(req, "label", None))
        timed(response, ms)
        return {"images": images_out(x, req.format), "format": req.format, "shape": list(shape), "model_ms": ms}

    @app.post("/api/encode", response_model=EncodeResponse, responses=ERRORS,
              summary="Encode images: posterior mean mu and log sigma^2 (and mu on the latent map)")
    def encode(req: EncodeRequest, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
        x = model_input(req.images, req.resize, req.binarize)
        mu, logvar, ms = service.encode(x, getattr(req, "label", None))
        timed(response, ms)
        coords = service.project(mu)
        return {"mu": mu.tolist(), "logvar": None if logvar is None else logvar.tolist(),
                "coords": None if coords is None else coords.tolist(),
                "inputs": imgs.to_base64_png(x) if req.return_inputs else None, "model_ms": ms}

    @app.post("/api/sample", response_model=SampleResponse, responses=ERRORS,
              summary="Samples: z ~ p(z) at a temperature, decoded (seeded)")
    def sample(req: SampleRequest, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
        x, z, seed, ms = service.sample(req.n, req.seed, req.temperature, req.mean, getattr(req, "label", None))
        timed(response, ms)
        return {"images": images_out(x, req.format), "z": z.tolist(), "seed": seed, "temperature": req.temperature,
                "format": req.format, "shape": list(shape), "model_ms": ms}

    @app.post("/api/score", response_model=ScoreResponse, responses={**ERRORS, **NOT_FOUND},
              summary="Anomaly scores (higher = more anomalous): -log p(x), complexity, typicality, ratio or regret")
    def score(req: ScoreRequest, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
        if not service.is_vae:
            raise NotSupported("this run is an autoencoder (model 'ae'), which defines no density p(x): "
                               "scores need a VAE run")
        if req.method == "regret" and len(req.images) > limits.max_regret_images:
            raise imgs.ImageError(f"{len(req.images)} images for likelihood regret, over the limit of "
                                  f"{limits.max_regret_images} (each fine-tunes its own copy of the encoder)")
        work = len(req.images) * req.k
        if req.method != "regret" and work > limits.max_score_samples:
            raise imgs.ImageError(f"{len(req.images)} images x k = {req.k} is {work} importance samples, over the "
                                  f"limit of {limits.max_score_samples}: send fewer images or a smaller k")
        x = model_input(req.images, req.resize, req.binarize, need_binary=service.likelihood == "bernoulli")
        s, nll, ms = service.score(x, req.k, req.seed, getattr(req, "label", None), req.method)
        timed(response, ms)
        finite = lambda a: [float(v) if np.isfinite(v) else None for v in a]  # noqa: E731
        return {"scores": finite(s), "method": req.method, "log_px": None if nll is None else finite(-nll),
                "k": req.k, "seed": req.seed, "units": "nats", "model_ms": ms}

    @app.get("/api/latent-map", response_model=LatentMapResponse, responses=NOT_FOUND,
             summary="The test set's posterior means in 2-D (PCA for D > 2), with labels and colours")
    def latent_map() -> dict[str, Any]:
        m = service.latent_map()
        rounded = lambda a: np.round(np.asarray(a, dtype=np.float64), 5).tolist()  # noqa: E731
        return {"dataset": m.dataset, "method": m.method, "axis_labels": list(m.axis_labels),
                "latent_dim": service.latent_dim, "n": int(m.coords.shape[0]), "x": rounded(m.coords[:, 0]),
                "y": rounded(m.coords[:, 1]), "labels": None if m.labels is None else m.labels.tolist(),
                "class_names": m.class_names, "colours": m.colours,
                "projection": {"mean": m.mean.tolist(), "forward": m.forward.tolist(), "inverse": m.inverse.tolist()}}

    @app.get("/api/latent-map/points/{index}", response_model=PointResponse, responses={**NOT_FOUND, **BAD_INDEX},
             summary="One point of the latent map: its test image, label and posterior mean")
    def point(index: int) -> dict[str, Any]:
        m = service.latent_map()
        n = m.coords.shape[0]
        if not 0 <= index < n:
            raise NotAvailable(f"point {index} does not exist: the latent map has {n} points (0 to {n - 1})")
        label = None if m.labels is None else int(m.labels[index])
        name = None
        if label is not None:
            name = m.class_names[label] if m.class_names and 0 <= label < len(m.class_names) else str(label)
        return {"index": index, "test_index": int(m.test_index[index]), "label": label, "class_name": name,
                "mu": m.mu[index].tolist(), "coords": m.coords[index].tolist(),
                "image": imgs.to_base64_png(m.images[index:index + 1])[0]}

    @app.get("/api/stats", response_model=StatsResponse, summary="Model time per operation (count, p50, p99)")
    def stats() -> dict[str, Any]:
        return {"timings": service.timings.summary()}

    return app
