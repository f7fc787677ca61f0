"""The JSON API through FastAPI's test client: every endpoint with good and bad inputs, and the limits."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.evaluation.anomaly import anomaly_scores
from vaelab.serving.app import create_app
from vaelab.serving.limits import Limits
from vaelab.visualisation.common import posterior_means
from vaelab.runs import load_data

STATIC = Path(__file__).resolve().parents[2] / "src" / "vaelab" / "serving" / "static"


def post_raw(client, path: str, body: bytes, ctype: str = "application/json"):
    return client.post(path, content=body, headers={"Content-Type": ctype})


def assert_refused(r, status: int, *phrases: str) -> str:
    """A 4xx JSON answer whose one-line detail contains every phrase."""
    assert r.status_code == status, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    for p in phrases:
        assert p in detail, (p, detail)
    return detail


# ------------------------------------------------------------------------------------------- info
def test_info_describes_model_and_limits(client2, client8, run2):
    i2 = client2.get("/api/info").json()
    assert i2["latent_dim"] == 2 and i2["image_shape"] == [1, 8, 8] and i2["likelihood"] == "gaussian"
    assert i2["model"] == "vae" and i2["dataset"] == "digits" and i2["binary_input"] is False
    assert i2["model_config"]["hidden"] == [64] and i2["model_config"]["latent_dim"] == 2
    assert i2["results"]["elbo"] == pytest.approx(run2.results["elbo"])
    assert i2["limits"]["max_batch"] == Limits().max_batch and i2["score_k"] == Limits().default_k
    assert i2["epochs_trained"] == 5
    i8 = client8.get("/api/info").json()
    assert i8["latent_dim"] == 8 and i8["likelihood"] == "bernoulli" and i8["binary_input"] is True


# ----------------------------------------------------------------------------------------- decode
def test_decode_png_and_array_match_the_model(client2, run2, h):
    z = [[0.0, 0.0], [1.5, -0.5], [-2.0, 2.0]]
    want = run2.model.decode(torch.tensor(z)).detach().numpy()  # (3, 1, 8, 8)
    r = client2.post("/api/decode", json={"z": z})
    assert r.status_code == 200
    doc = r.json()
    assert doc["format"] == "png" and doc["shape"] == [1, 8, 8] and len(doc["images"]) == 3
    assert re.fullmatch(r"model;dur=[0-9.]+", r.headers["server-timing"]) and doc["model_ms"] >= 0
    for img, w in zip(doc["images"], want):
        px = h.decode_png(img)
        assert px.shape == (8, 8) and px.dtype == np.uint8
        assert np.abs(px.astype(int) - np.round(w[0] * 255)).max() <= 1
    arr = client2.post("/api/decode", json={"z": z, "format": "array"}).json()
    assert arr["format"] == "array"
    np.testing.assert_allclose(np.array(arr["images"]), want, atol=1e-6)
    assert not np.allclose(want[0], want[1])  # different z, different images


@pytest.mark.parametrize("body, status, phrases", [
    (b'{"z": [[0.1, 0.2, 0.3]]}', 422, ["z[0]", "at most 2 items", "D = 2"]),
    (b'{"z": [[0.1]]}', 422, ["z[0]", "at least 2 items"]),
    (b'{"z": [[NaN, 0.0]]}', 422, ["z[0][0]", "finite number"]),
    (b'{"z": [[0.0, Infinity]]}', 422, ["z[0][1]", "finite number"]),
    (b'{"z": [[-Infinity, 0.0]]}', 422, ["finite number"]),
    (b'{"z": [[1e400, 0.0]]}', 422, ["finite number"]),
    (b'{"z": [[1000, 0.0]]}', 422, ["less than or equal to 100"]),
    (b'{"z": [["0.5", 0.0]]}', 422, ["z[0][0]", "valid number"]),
    (b'{"z": [[true, 0.0]]}', 422, ["valid number"]),
    (b'{"z": [[null, 0.0]]}', 422, ["valid number"]),
    (b'{"z": []}', 422, ["at least 1 item"]),
    (b'{"z": [0.1, 0.2]}', 422, ["z[0]", "valid list"]),
    (b'{"z": "0.1,0.2"}', 422, ["valid list"]),
    (b'{}', 422, ["z: Field required", "latent vectors"]),
    (b'{"z": [[0, 0]], "format": "jpeg"}', 422, ["format", "png", "array"]),
    (b'{"z": [[0, 0]], "zz": 1}', 422, ["zz: unknown key", "z, format"]),
    (b'[[0, 0]]', 422, ["expected a JSON object"]),
    (b'{"z": [[0, 0]', 422, ["not valid JSON"]),
    (b'\xff\xfe{', 400, []),
    (b'[' * 100_000 + b']' * 100_000, 400, []),  # nested too deep for the JSON parser
])
def test_decode_refuses_bad_bodies(client2, body, status, phrases):
    assert_refused(post_raw(client2, "/api/decode", body), status, *phrases)


def test_decode_refuses_non_json_and_batches_over_the_limit(run2, h):
    client = h.make_client(create_app(run2.run_dir, Limits(max_batch=4)))
    assert_refused(post_raw(client, "/api/decode", b"z=1,2", "text/plain"), 415, "application/json")
    assert_refused(post_raw(client, "/api/decode", b'{"z": [[0, 0]]}', ""), 415, "no Content-Type")
    assert client.post("/api/decode", json={"z": [[0, 0]] * 4}).status_code == 200
    assert_refused(client.post("/api/decode", json={"z": [[0, 0]] * 5}), 422, "at most 4 items", "1 to 4 latent")
    assert_refused(client.post("/api/sample", json={"n": 5}), 422, "n", "1 to 4")


def test_body_over_the_limit_is_refused_unread(run2, h):
    client = h.make_client(create_app(run2.run_dir, Limits(max_body_bytes=1000)))
    small = json.dumps({"z": [[0.5, 0.5]] * 20}).encode()
    assert len(small) < 1000 and post_raw(client, "/api/decode", small).status_code == 200
    big = json.dumps({"z": [[0.5, 0.5]] * 200}).encode()
    assert_refused(post_raw(client, "/api/decode", big), 413, "limit is 1000 bytes")

    def chunks():  # no Content-Length (chunked): the middleware counts what it reads
        for _ in range(100):
            yield b" " * 500

    assert_refused(client.post("/api/decode", content=chunks(), headers={"Content-Type": "application/json"}),
                   413, "more than 1000 bytes")


# ----------------------------------------------------------------------------------------- encode
def test_encode_matches_posterior_and_map(client2, app2, run2, h):
    data = load_data(run2.config)
    x = data.test[:5]
    mu_true = posterior_means(run2.model, x).numpy()
    r = client2.post("/api/encode", json={"images": x[:, 0].tolist()})  # (H, W) lists
    assert r.status_code == 200
    doc = r.json()
    np.testing.assert_allclose(doc["mu"], mu_true, atol=1e-5)
    with torch.no_grad():
        logvar = run2.model.encode(x).logvar.numpy()
    np.testing.assert_allclose(doc["logvar"], logvar, atol=1e-5)
    np.testing.assert_allclose(doc["coords"], mu_true, atol=1e-5)  # D = 2: the map is z itself
    assert doc["inputs"] is None
    # the same images as PNG (8-bit: digits' 17 gray levels round to the nearest of 256)
    pngs = [h.png_b64((v[0].numpy() * 255).round().astype(np.uint8)) for v in x]
    doc2 = client2.post("/api/encode", json={"images": pngs, "return_inputs": True}).json()
    np.testing.assert_allclose(doc2["mu"], mu_true, atol=0.02)
    assert len(doc2["inputs"]) == 5 and h.decode_png(doc2["inputs"][0]).shape == (8, 8)
    # (C, H, W) lists and a data: URL work too
    doc3 = client2.post("/api/encode", json={"images": [x[0].tolist(), "data:image/png;base64," + pngs[1]]}).json()
    np.testing.assert_allclose(doc3["mu"][0], mu_true[0], atol=1e-5)
    np.testing.assert_allclose(doc3["mu"][1], mu_true[1], atol=0.02)


def test_encode_converts_and_resizes_uploads(client2, h):
    rng = np.random.default_rng(0)
    gray = (rng.random((8, 8)) * 255).astype(np.uint8)
    base = client2.post("/api/encode", json={"images": [h.png_b64(gray)]}).json()["mu"][0]
    rgb = np.repeat(gray[:, :, None], 3, axis=2)  # the same picture in RGB -> converted to gray
    mu_rgb = client2.post("/api/encode", json={"images": [h.png_b64(rgb)]}).json()["mu"][0]
    assert mu_rgb == pytest.approx(base, abs=1e-3)
    big = np.asarray(Image.fromarray(gray).resize((32, 24), Image.NEAREST))  # 24x32
    assert_refused(client2.post("/api/encode", json={"images": [h.png_b64(big)]}), 422,
                   "images[0]", "24x32 pixels", "takes 8x8", "\"resize\": true")
    r = client2.post("/api/encode", json={"images": [h.png_b64(big)], "resize": True, "return_inputs": True})
    assert r.status_code == 200 and h.decode_png(r.json()["inputs"][0]).shape == (8, 8)
    buf = io.BytesIO()
    Image.fromarray(gray.astype(np.uint16) * 257).save(buf, format="PNG")  # 16-bit grayscale PNG
    r16 = client2.post("/api/encode", json={"images": [base64.b64encode(buf.getvalue()).decode()]})
    assert r16.status_code == 200 and r16.json()["mu"][0] == pytest.approx(base, abs=1e-3)
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="JPEG", quality=95)
    assert client2.post("/api/encode", json={"images": [base64.b64encode(buf.getvalue()).decode()]}).status_code == 200


def test_encode_refuses_bad_images(run2, client2, h):
    good = h.png_b64(np.zeros((8, 8), np.uint8))
    raw = base64.b64decode(good)
    cases = [
        ({"images": ["not base64 !!"]}, ["images[0]", "not valid base64"]),
        ({"images": [base64.b64encode(b"hello, I am text").decode()]}, ["images[0]", "not an image"]),
        ({"images": [good, base64.b64encode(raw[:40]).decode()]}, ["images[1]"]),
        ({"images": [base64.b64encode(b"%PDF-1.4 xxxx").decode()]}, ["not an image"]),
        ({"images": []}, ["at least 1 item"]),
        ({"images": [""]}, ["images[0]"]),
        ({"images": [[[0.5] * 8] * 7]}, ["images[0]", "shape (7, 8)", "(1, 8, 8) or (8, 8)"]),
        ({"images": [[[[0.5] * 8] * 8] * 3]}, ["shape (3, 8, 8)"]),
        ({"images": [[[1.5] * 8] * 8]}, ["images[0]", "less than or equal to 1"]),
        ({"images": [[[-0.1] * 8] * 8]}, ["greater than or equal to 0"]),
        ({"images": [[[True] * 8] * 8]}, ["valid number"]),
        ({"images": [[[0.5] * 8] * 7 + [[0.1]]]}, ["not a rectangular array"]),
        ({"images": [3]}, ["a JSON number"]),
        ({"images": [None]}, ["a JSON null"]),
        ({"images": [{"png": good}]}, ["a JSON object"]),
        ({"images": [good], "resize": "yes"}, ["resize"]),
    ]
    for body, phrases in cases:
        assert_refused(client2.post("/api/encode", json=body), 422, *phrases)
    nan_body = b'{"images": [[' + b",".join([b"[" + b",".join([b"NaN"] * 8) + b"]"] * 8) + b"]]}"
    assert_refused(post_raw(client2, "/api/encode", nan_body), 422, "finite number")
    # an image over the pixel limit is refused from its header, before decoding
    small = h.make_client(create_app(run2.run_dir, Limits(max_upload_pixels=100)))
    huge = h.png_b64(np.zeros((2000, 3000), np.uint8))
    assert_refused(small.post("/api/encode", json={"images": [huge], "resize": True}), 422,
                   "2000x3000 pixels", "limit of 100 pixels")


# ----------------------------------------------------------------------------------------- sample
def test_sample_is_seeded_and_returns_its_z(client2, run2):
    a = client2.post("/api/sample", json={"n": 6, "seed": 3, "format": "array"}).json()
    b = client2.post("/api/sample", json={"n": 6, "seed": 3, "format": "array"}).json()
    c = client2.post("/api/sample", json={"n": 6, "seed": 4, "format": "array"}).json()
    assert a["seed"] == 3 and np.array(a["images"]).shape == (6, 1, 8, 8) and np.array(a["z"]).shape == (6, 2)
    assert a["images"] == b["images"] and a["z"] == b["z"] and a["z"] != c["z"]
    with torch.no_grad():
        again = run2.model.decode(torch.tensor(a["z"], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(np.array(a["images"]), again, atol=1e-5)  # the returned z are the decoded ones
    free = client2.post("/api/sample", json={}).json()
    assert len(free["images"]) == 16 and isinstance(free["seed"], int)
    replay = client2.post("/api/sample", json={"seed": free["seed"]}).json()
    assert replay["images"] == free["images"]  # a random seed is returned so the draw can be repeated
    cold = client2.post("/api/sample", json={"n": 2, "temperature": 0}).json()
    assert np.array(cold["z"]).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    for body, phrases in [({"n": 0}, ["n", "greater than or equal to 1"]), ({"n": 257}, ["1 to 256"]),
                          ({"n": 2.5}, ["n"]), ({"seed": -1}, ["seed"]), ({"seed": "7"}, ["seed"]),
                          ({"temperature": -1}, ["temperature"]), ({"n": "4"}, ["valid integer"])]:
        assert_refused(client2.post("/api/sample", json=body), 422, *phrases)


# ------------------------------------------------------------------------------------------ score
def test_score_is_importance_sampled_minus_log_px(client8, run8):
    data = load_data(run8.config)
    x = data.test[:4]
    r = client8.post("/api/score", json={"images": x[:, 0].tolist(), "k": 200, "seed": 5, "method": "nll"})
    assert r.status_code == 200
    doc = r.json()
    want = anomaly_scores(run8.model, x, k=200, seed=5)
    np.testing.assert_allclose(doc["scores"], want, rtol=1e-9)
    np.testing.assert_allclose(doc["log_px"], -want, rtol=1e-9)
    assert doc["k"] == 200 and doc["units"] == "nats" and doc["method"] == "nll"
    noise = (np.random.default_rng(0).random((4, 8, 8)) > 0.5).astype(float).tolist()
    noisy = client8.post("/api/score", json={"images": noise, "k": 200, "method": "nll"}).json()["scores"]
    assert min(noisy) > max(doc["scores"]) + 5  # random pixels are far less likely than test digits


def test_score_refuses_what_it_cannot_do(client8, run8, client2, h, serve_runs):
    gray = [[[0.5] * 8] * 8]
    assert_refused(client8.post("/api/score", json={"images": gray}), 422, "gray pixel values", "\"binarize\": true")
    ok = client8.post("/api/score", json={"images": gray, "binarize": True, "k": 10, "method": "nll"})
    assert ok.status_code == 200 and ok.json()["scores"][0] > 0  # -log p(x) of a binary image
    assert_refused(client8.post("/api/score", json={"images": gray, "k": 5001}), 422, "k", "1 to 5000")
    assert_refused(client8.post("/api/score", json={"images": gray, "k": 0}), 422, "k")
    assert_refused(client8.post("/api/score", json={"images": gray * 100, "k": 5000}), 422,
                   "500000 importance samples", "limit of 100000")
    from vaelab.training import TrainConfig, train

    ae = train(TrainConfig.from_dict(dict(dataset="digits", hidden=(32,), latent_dim=2, epochs=1, model="ae", device="cpu",
                           out=str(serve_runs / "ae"))), quiet=True)
    ac = h.make_client(create_app(ae.run_dir))
    assert_refused(ac.post("/api/score", json={"images": gray}), 400, "autoencoder", "no density")
    enc = ac.post("/api/encode", json={"images": gray}).json()
    assert enc["logvar"] is None and len(enc["mu"][0]) == 2
    assert ac.post("/api/decode", json={"z": [[0, 0]]}).status_code == 200


def test_score_methods_are_the_python_api_s(client8, run8, serve_runs, h):
    from vaelab.runs import anomaly_scores as api
    from vaelab.runs.anomaly_config import DEFAULT_METHOD

    info = client8.get("/api/info").json()
    assert info["score_methods"] == ["nll", "complexity", "typicality", "regret"]  # no background: no ratio
    assert info["default_score_method"] == DEFAULT_METHOD
    x = load_data(run8.config).test[:3]
    body = {"images": x[:, 0].tolist(), "k": 100, "seed": 2}
    default = client8.post("/api/score", json=body).json()
    assert default["method"] == DEFAULT_METHOD
    nll = anomaly_scores(run8.model, x, k=100, seed=2)
    complexity = client8.post("/api/score", json={**body, "method": "complexity"}).json()
    np.testing.assert_allclose(complexity["scores"], api.complexity_scores(run8, x, nll=nll), rtol=1e-9)
    np.testing.assert_allclose(complexity["log_px"], -nll, rtol=1e-9)
    typical = client8.post("/api/score", json={**body, "method": "typicality"}).json()
    entropy = api.typical_entropy(run8, 100, seed=2)
    np.testing.assert_allclose(typical["scores"], np.abs(nll - entropy), rtol=1e-9)
    regret = client8.post("/api/score", json={"images": x[:, 0].tolist(), "method": "regret"}).json()
    np.testing.assert_allclose(regret["scores"], api.regret_scores(run8, x), rtol=1e-6, atol=1e-6)
    assert regret["log_px"] is None
    assert_refused(client8.post("/api/score", json={**body, "method": "ratio"}), 422, "method", "nll, complexity")
    assert_refused(client8.post("/api/score", json={**body, "method": "regret", "images": x[:1, 0].tolist() * 17}),
                   422, "17 images for likelihood regret", "limit of 16")
    from vaelab.training import TrainConfig, train

    bg = train(run8.config.for_background(str(run8.run_dir), epochs=2, out=str(serve_runs / "d8-bg")), quiet=True)
    with_bg = h.make_client(create_app(run8.run_dir, background=bg.run_dir))
    assert "ratio" in with_bg.get("/api/info").json()["score_methods"]
    ratio = with_bg.post("/api/score", json={**body, "method": "ratio"}).json()
    np.testing.assert_allclose(ratio["scores"], nll - anomaly_scores(bg.model, x, k=100, seed=2), rtol=1e-9)
    with_pixels = h.make_client(create_app(run8.run_dir, background="pixels"))  # vaelab serve RUN --background pixels
    assert "ratio" in with_pixels.get("/api/info").json()["score_methods"]
    ratio = with_pixels.post("/api/score", json={**body, "method": "ratio"}).json()
    np.testing.assert_allclose(ratio["scores"], nll - api.pixel_background(run8).density_nll(x), rtol=1e-9)


# ------------------------------------------------------------------------------------ latent map
def test_latent_map_2d_is_the_posterior_means(client2, run2):
    doc = client2.get("/api/latent-map").json()
    data = load_data(run2.config)
    mu = posterior_means(run2.model, data.test).numpy()
    assert doc["method"] == "z" and doc["n"] == 270 == len(doc["x"]) and doc["latent_dim"] == 2
    np.testing.assert_allclose(np.stack([doc["x"], doc["y"]], 1), mu, atol=1e-4)
    assert doc["labels"] == data.test_labels.tolist() and len(doc["colours"]) == 10
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in doc["colours"]) and len(set(doc["colours"])) == 10
    p = doc["projection"]
    assert np.allclose(p["forward"], np.eye(2)) and np.allclose(p["inverse"], np.eye(2))


def test_latent_map_pca_projection_round_trips(client8, run8):
    doc = client8.get("/api/latent-map").json()
    assert doc["method"] == "PCA" and doc["latent_dim"] == 8 and doc["axis_labels"][0].startswith("PC1")
    p = {k: np.array(v) for k, v in doc["projection"].items()}
    assert p["forward"].shape == (8, 2) and p["inverse"].shape == (2, 8)
    mu = posterior_means(run8.model, load_data(run8.config).test).numpy()
    coords = np.stack([doc["x"], doc["y"]], 1)
    np.testing.assert_allclose((mu - p["mean"]) @ p["forward"], coords, atol=1e-4)  # the page's z -> map
    plane = np.array([[0.5, -1.0], [2.0, 0.3]])
    z = p["mean"] + plane @ p["inverse"]  # the page's map -> z (hover)
    np.testing.assert_allclose((z - p["mean"]) @ p["forward"], plane, atol=1e-8)
    # encode places an image where the map shows it
    point = client8.get("/api/latent-map/points/7").json()
    enc = client8.post("/api/encode", json={"images": [point["image"]]}).json()
    np.testing.assert_allclose(enc["coords"][0], [doc["x"][7], doc["y"][7]], atol=1e-4)
    np.testing.assert_allclose(enc["mu"][0], point["mu"], atol=1e-5)


def test_points_of_the_map(client2, run2, h):
    data = load_data(run2.config)
    p = client2.get("/api/latent-map/points/5").json()
    assert p["index"] == 5 and p["test_index"] == 5 and p["label"] == int(data.test_labels[5])
    assert p["class_name"] == str(p["label"])
    px = h.decode_png(p["image"])
    assert np.abs(px / 255.0 - data.test[5, 0].numpy()).max() < 0.003
    assert_refused(client2.get("/api/latent-map/points/270"), 404, "0 to 269")
    assert_refused(client2.get("/api/latent-map/points/-1"), 404, "does not exist")
    assert_refused(client2.get("/api/latent-map/points/two"), 422, "index")


def test_without_test_data_the_map_is_404_and_the_rest_works(run2, h):
    from vaelab.errors import DataError

    def no_data():
        raise DataError("digits: files missing")

    c = h.make_client(create_app(run2.run_dir, data=no_data))
    assert_refused(c.get("/api/latent-map"), 404, "no latent map", "files missing")
    assert_refused(c.get("/api/latent-map/points/0"), 404, "no latent map")
    enc = c.post("/api/encode", json={"images": [[[0.5] * 8] * 8]}).json()
    assert enc["coords"] is None and len(enc["mu"][0]) == 2
    assert c.post("/api/decode", json={"z": [[0, 0]]}).status_code == 200


# ---------------------------------------------------------------------------------- image shapes
@pytest.mark.parametrize("shape", [(1, 28, 20), (3, 10, 12)])
def test_other_image_shapes(shape, h, tmp_path):
    """Frey-Face-like 28x20 grayscale and a 10x12 RGB model (random weights): shapes follow the model."""
    from vaelab.data.dataset import Dataset
    from vaelab.models import ModelConfig, build_model
    from vaelab.training import TrainConfig
    from vaelab.runs import Run

    c, hh, ww = shape
    mc = ModelConfig(image_shape=shape, latent_dim=3, hidden=(16,), likelihood="gaussian")
    model = build_model(mc).eval()
    g = torch.Generator().manual_seed(0)
    test = torch.rand((12, *shape), generator=g)
    data = Dataset("synthetic", test, test, test, "continuous")
    run = Run(run_dir=tmp_path, config=TrainConfig.from_dict(dict(dataset="synthetic")), model_config=mc, model=model)
    client = h.make_client(create_app(run, data=data))
    info = client.get("/api/info").json()
    assert info["image_shape"] == list(shape) and info["latent_dim"] == 3
    img = h.decode_png(client.post("/api/decode", json={"z": [[0.1, 0.2, 0.3]]}).json()["images"][0])
    assert img.shape == ((hh, ww) if c == 1 else (hh, ww, c))
    arr = client.post("/api/decode", json={"z": [[0.1, 0.2, 0.3]], "format": "array"}).json()["images"]
    assert np.array(arr).shape == (1, *shape)
    pixels = (test[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    enc = client.post("/api/encode", json={"images": [h.png_b64(pixels[:, :, 0] if c == 1 else pixels)]})
    assert enc.status_code == 200 and len(enc.json()["mu"][0]) == 3
    other = np.zeros((hh, ww, 3 if c == 1 else 1), np.uint8).squeeze()  # the other channel count: converted
    assert client.post("/api/encode", json={"images": [h.png_b64(other)]}).status_code == 200
    wrong = np.zeros((ww, hh), np.uint8)  # transposed size
    assert_refused(client.post("/api/encode", json={"images": [h.png_b64(wrong)]}), 422,
                   f"{ww}x{hh} pixels", f"takes {hh}x{ww}")
    assert client.get("/api/latent-map").json()["n"] == 12


# ------------------------------------------------------------------------------ page, schema, stats
def test_page_and_static_files_are_served_without_external_urls(client2):
    page = client2.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for needed in ('id="map"', 'id="decoded"', 'id="sliders"', 'id="sample-btn"', 'id="upload"', 'id="interp-t"',
                   'src="static/app.js"'):
        assert needed in page.text
    for name in ("app.js", "style.css", "index.html"):
        r = client2.get(f"/static/{name}")
        assert r.status_code == 200 and len(r.text) > 500
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", r.text, re.I), f"{name} loads from outside"
    assert client2.get("/docs").status_code == 404  # Swagger UI would load from a CDN: not served


def test_openapi_schema_states_the_exact_shapes(client2):
    schema = client2.get("/openapi.json").json()
    paths = schema["paths"]
    for path, method in [("/api/info", "get"), ("/api/decode", "post"), ("/api/encode", "post"),
                         ("/api/sample", "post"), ("/api/score", "post"), ("/api/latent-map", "get"),
                         ("/api/latent-map/points/{index}", "get"), ("/api/stats", "get")]:
        assert method in paths[path], path
    z = schema["components"]["schemas"]["DecodeRequest"]["properties"]["z"]
    assert z["maxItems"] == 256 and z["items"]["minItems"] == z["items"]["maxItems"] == 2
    for code in ("413", "415", "422"):
        assert code in paths["/api/decode"]["post"]["responses"]


def test_stats_count_model_calls(run2, h):
    c = h.make_client(create_app(run2.run_dir))
    for _ in range(5):
        c.post("/api/decode", json={"z": [[0.2, 0.1]]})
    t = c.get("/api/stats").json()["timings"]["decode"]
    assert t["count"] == 5 and 0 < t["p50_ms"] <= t["p99_ms"] < 1000
