"""Pydantic request and response models of the JSON API.

Request models depend on the model and the limits (vector length D, image shape, batch bound), so
``request_models`` builds them per app: the OpenAPI schema then states exactly what is accepted, and
pydantic refuses the rest (wrong length, NaN/inf, non-numbers, booleans, unknown keys) with a 422.
``expected`` gives, per request field, the sentence that a 422 message quotes.
"""

# no `from __future__ import annotations`: the request classes are built in a function from its local types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from vaelab.serving.limits import Limits

MAX_SEED = 2 ** 63 - 1

ImageFormat = Literal["png", "array"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class RequestModels:
    """The request classes of one app and the expectation sentence of each field."""

    decode: type[BaseModel]
    encode: type[BaseModel]
    sample: type[BaseModel]
    score: type[BaseModel]
    expected: dict[str, str]


def _number(lo: float, hi: float) -> Any:
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=lo, le=hi)]


def _integral(value: Any) -> Any:
    """JSON Schema counts 32.0 as an integer: accept integral floats (not strings or booleans)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _integer(lo: int, hi: int) -> Any:
    return Annotated[int, Field(strict=True, ge=lo, le=hi), BeforeValidator(_integral)]


def _list(item: Any, lo: int, hi: int) -> Any:
    return Annotated[list[item], Field(min_length=lo, max_length=hi)]


def request_models(latent_dim: int, image_shape: tuple[int, int, int], limits: Limits,
                   n_classes: int = 0, methods: tuple[str, ...] = ("nll",), default_method: str = "nll"
                   ) -> RequestModels:
    """Request models for a model with ``latent_dim`` D and images ``image_shape`` (C, H, W); a conditional
    model (``n_classes`` > 0) takes a class ``label`` with each request. ``methods``: the anomaly scores this
    server offers (vaelab.runs.anomaly_scores; ratio only with a background run)."""
    c, h, w = image_shape
    d, batch, zmax = latent_dim, limits.max_batch, float(limits.max_abs_latent)
    vector = _list(_number(-zmax, zmax), d, d)
    z_field = _list(vector, 1, batch)
    pixel = _number(0.0, 1.0)
    chw = _list(_list(_list(pixel, w, w), h, h), c, c)
    item_types: list[Any] = [Annotated[str, Field(min_length=1, max_length=limits.max_body_bytes)], chw]
    if c == 1:
        item_types.append(_list(_list(pixel, w, w), h, h))
    image_item = Union[tuple(item_types)]  # type: ignore[valid-type]
    images_field = _list(image_item, 1, batch)
    image_doc = (f"1 to {batch} images, each a base64 PNG/JPEG file (a data:image/png;base64,... URL is fine) of "
                 f"{h}x{w} pixels (height x width; another size with \"resize\": true, at most "
                 f"{limits.max_upload_pixels} pixels), or nested lists of shape (C, H, W) = ({c}, {h}, {w})"
                 f"{f' or (H, W) = ({h}, {w})' if c == 1 else ''} of numbers in [0, 1]")
    z_doc = (f"1 to {batch} latent vectors, each a list of D = {d} finite numbers in [-{zmax:g}, {zmax:g}]")
    fmt_doc = "\"png\" (base64 PNG strings, the default) or \"array\" (nested lists (C, H, W) of floats in [0, 1])"
    resize_doc = f"resize uploaded files of another size to {h}x{w} (bilinear, antialiased)"
    binarize_doc = "threshold pixels at 0.5 (a Bernoulli model's score needs pixels 0 or 1)"
    seed_doc = f"an integer from 0 to {MAX_SEED}"
    label_type = Optional[_integer(0, max(n_classes - 1, 0))]  # type: ignore[valid-type]
    label_doc = (f"the class y, 0 to {n_classes - 1}, of this conditional model (required for decode, encode and "
                 "sample; a score without it is log p(x) = log mean_y p(x|y); a score with it is method nll's)")
    method_type = Literal[tuple(methods)]  # type: ignore[valid-type]
    method_doc = (f"the anomaly score: {', '.join(methods)} (default {default_method}; higher = more anomalous; "
                  "regret takes at most " f"{limits.max_regret_images} images)")

    class _Labelled(_Strict):
        label: label_type = Field(None, description=label_doc)  # type: ignore[valid-type]

    Base = _Labelled if n_classes else _Strict  # only a conditional model's requests have a label

    class DecodeRequest(Base):  # type: ignore[valid-type, misc]
        """Latent vectors to decode into images (the decoder mean E[x|z])."""

        z: z_field = Field(description=z_doc)  # type: ignore[valid-type]
        format: ImageFormat = Field("png", description=fmt_doc)

    class EncodeRequest(Base):  # type: ignore[valid-type, misc]
        """Images to encode: q(z|x) = N(mu, diag exp(logvar))."""

        images: images_field = Field(description=image_doc)  # type: ignore[valid-type]
        resize: StrictBool = Field(False, description=resize_doc)
        binarize: StrictBool = Field(False, description=binarize_doc)
        return_inputs: StrictBool = Field(False, description="also return the images as the model saw them (PNG)")

    class SampleRequest(Base):  # type: ignore[valid-type, misc]
        """Samples of the model: z ~ p(z) (its spread scaled by the temperature), decoded."""

        n: _integer(1, batch) = Field(16, description=f"1 to {batch} samples")  # type: ignore[valid-type]
        seed: Optional[_integer(0, MAX_SEED)] = Field(  # type: ignore[valid-type]
            None, description=f"{seed_doc}; a random one when absent (returned)")
        temperature: _number(0.0, 10.0) = Field(  # type: ignore[valid-type]
            1.0, description="scale of the prior's standard deviation, 0 to 10")
        mean: StrictBool = Field(True, description="the decoder mean E[x|z] (true) or a draw of p(x|z) (false)")
        format: ImageFormat = Field("png", description=fmt_doc)

    class ScoreRequest(Base):  # type: ignore[valid-type, misc]
        """Images to score: -log p(x), importance-sampled with k samples per image, or a correction of it."""

        images: images_field = Field(description=image_doc)  # type: ignore[valid-type]
        method: method_type = Field(default_method, description=method_doc)  # type: ignore[valid-type]
        k: _integer(1, limits.max_k) = Field(  # type: ignore[valid-type]
            limits.default_k, description=f"importance samples per image, 1 to {limits.max_k}; images x k at most "
                                          f"{limits.max_score_samples}")
        seed: _integer(0, MAX_SEED) = Field(0, description=seed_doc)  # type: ignore[valid-type]
        resize: StrictBool = Field(False, description=resize_doc)
        binarize: StrictBool = Field(False, description=binarize_doc)

    expected = {
        "z": f"z is a list of {z_doc}", "images": f"images is a list of {image_doc}",
        "format": f"format is {fmt_doc}", "n": f"n is an integer from 1 to {batch}",
        "seed": f"seed is {seed_doc}", "temperature": "temperature is a number from 0 to 10",
        "mean": "mean is true or false", "k": f"k is an integer from 1 to {limits.max_k}",
        "resize": "resize is true or false", "binarize": "binarize is true or false",
        "return_inputs": "return_inputs is true or false", "index": "index is a point number of the latent map",
        "label": f"label is {label_doc}" if n_classes else "label is only for a conditional model",
        "method": f"method is one of {', '.join(methods)}",
    }
    return RequestModels(DecodeRequest, EncodeRequest, SampleRequest, ScoreRequest, expected)


# ----------------------------------------------------------------------------------- responses
Images = Union[list[str], list[list[list[list[float]]]]]


class ErrorResponse(BaseModel):
    """A refused request: ``detail`` says what was wrong and what was expected."""

    detail: str
    errors: Optional[list[dict[str, Any]]] = None


class InfoResponse(BaseModel):
    run: str
    dataset: str
    model: str
    latent_dim: int
    image_shape: list[int]
    likelihood: str
    binary_input: bool
    model_config_: dict[str, Any] = Field(alias="model_config")
    results: Optional[dict[str, Any]] = None
    epochs_trained: int
    limits: dict[str, Any]
    score_k: int
    device: str
    version: str
    n_classes: int = Field(0, description="classes of a conditional model (0: not conditional)")
    class_names: Optional[list[str]] = None
    score_methods: list[str] = Field(default_factory=list, description="the anomaly scores /api/score offers")
    default_score_method: Optional[str] = None

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())


class DecodeResponse(BaseModel):
    images: Images = Field(description="one per latent vector: base64 PNG strings, or (C, H, W) nested lists")
    format: ImageFormat
    shape: list[int] = Field(description="(C, H, W) of each image")
    model_ms: float = Field(description="time of the decoder pass on the server, milliseconds")


class EncodeResponse(BaseModel):
    mu: list[list[float]] = Field(description="posterior means (N, D)")
    logvar: Optional[list[list[float]]] = Field(description="posterior log variances log sigma^2 (N, D); null for "
                                                            "an autoencoder")
    coords: Optional[list[list[float]]] = Field(description="mu on the latent map's plane (N, 2); null without a map")
    inputs: Optional[list[str]] = Field(None, description="the images as the model saw them (base64 PNG)")
    model_ms: float


class SampleResponse(BaseModel):
    images: Images
    z: list[list[float]] = Field(description="the latent vectors drawn (n, D)")
    seed: int
    temperature: float
    format: ImageFormat
    shape: list[int]
    model_ms: float


class ScoreResponse(BaseModel):
    scores: list[Optional[float]] = Field(description="the method's anomaly score per image, nats (higher = more "
                                                      "anomalous); for nll, -log p(x)")
    method: str = Field(description="the anomaly score: nll, complexity, typicality, ratio or regret")
    log_px: Optional[list[Optional[float]]] = Field(description="log p(x) per image, nats, importance-sampled (null "
                                                                "for regret, which does not compute it)")
    k: int
    seed: int
    units: Literal["nats"] = "nats"
    model_ms: float


class Projection(BaseModel):
    mean: list[float] = Field(description="z at the plane's origin (D,)")
    forward: list[list[float]] = Field(description="(D, 2): plane = (z - mean) @ forward")
    inverse: list[list[float]] = Field(description="(2, D): z = mean + plane @ inverse")


class LatentMapResponse(BaseModel):
    dataset: str
    method: str = Field(description="z (the latent itself, D <= 2) or PCA")
    axis_labels: list[str]
    latent_dim: int
    n: int
    x: list[float]
    y: list[float]
    labels: Optional[list[int]]
    class_names: Optional[list[str]]
    colours: list[str] = Field(description="hex colour of each label value (one colour when unlabelled)")
    projection: Projection


class PointResponse(BaseModel):
    index: int
    test_index: int
    label: Optional[int]
    class_name: Optional[str]
    mu: list[float]
    coords: list[float]
    image: str = Field(description="the test image, base64 PNG")


class StatsResponse(BaseModel):
    timings: dict[str, dict[str, float]] = Field(description="model time per operation: count, p50/p99/mean ms")
