"""The anomaly-score methods: each against a hand-computed value, and the blank images -log p(x) falls for."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

import vaelab
from vaelab.errors import ConfigError, VaelabError
from vaelab.runs import anomaly_scores as A
from vaelab.runs.anomaly_config import METHODS

SMALL = dict(dataset="digits", hidden=(32,), latent_dim=3, epochs=3, batch_size=64, seed=0, device="cpu",
             warmup_epochs=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A Gaussian and a Bernoulli (thresholded) VAE on the 8x8 digits, and a background model of the first."""
    root = tmp_path_factory.mktemp("scores")
    gauss = vaelab.train(vaelab.TrainConfig.from_dict({**SMALL, "out": str(root / "g")}), quiet=True)
    bern = vaelab.train(vaelab.TrainConfig.from_dict({**SMALL, "binarize": "threshold", "out": str(root / "b")}),
                        quiet=True)
    bg = vaelab.train(gauss.config.for_background(str(gauss.run_dir), out=str(root / "bg")), quiet=True)
    return {"gaussian": gauss, "bernoulli": bern, "background": bg}


def _tiff_nats(pixels: np.ndarray, mode: str) -> float:
    buf = io.BytesIO()
    im = Image.fromarray(pixels)
    im = im.convert("1") if mode == "1" else im
    im.save(buf, format="TIFF", compression="group4" if mode == "1" else "tiff_lzw")
    return 8 * math.log(2) * len(buf.getvalue())


def test_complexity_is_nll_minus_the_compressed_length(runs):
    """Bernoulli: S = -log p(x) - L(x); a density on 8-bit levels: S = -log p(x) + 64 ln 256 - L(x)."""
    blank = torch.zeros(1, 1, 8, 8)
    gray = torch.full((1, 1, 8, 8), 51 / 255)  # a constant level
    nll = np.array([12.5])
    s = A.complexity_scores(runs["bernoulli"], blank, nll=nll, compressor="tiff")
    assert s[0] == pytest.approx(12.5 - _tiff_nats(np.zeros((8, 8), np.uint8), "1"))
    s = A.complexity_scores(runs["gaussian"], gray, nll=nll, compressor="tiff")
    assert s[0] == pytest.approx(12.5 + 64 * math.log(256) - _tiff_nats(np.full((8, 8), 51, np.uint8), "L"))
    # without a given -log p(x) the method computes it: the same as nll_scores with the same k and seed
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    run = runs["gaussian"]
    want = A.nll_scores(run.model, x, 50, seed=4) - A.complexity_term(run, x, "tiff")
    assert np.allclose(A.complexity_scores(run, x, 50, compressor="tiff", seed=4), want)


def test_typicality_by_hand():
    nll = np.array([1.0, 2.0, 3.0, 10.0, 7.0])
    assert A.typicality_of(nll, 3.0).tolist() == [2.0, 1.0, 0.0, 7.0, 4.0]  # M = 1: |-log p(x) - H|
    assert A.typicality_of(nll, 3.0, batch=2).tolist() == [1.5, 3.5]  # |1.5 - 3|, |6.5 - 3|; the 5th left out


def test_typicality_reference_is_the_valid_split_mean(runs):
    run = runs["gaussian"]
    valid = vaelab.load_dataset("digits").valid
    h = A.typical_entropy(run, 20, seed=1)
    assert h == pytest.approx(float(A.nll_scores(run.model, valid, 20, seed=1).mean()))  # 270 images < limit
    x = valid[:4]
    nll = A.nll_scores(run.model, x, 20, seed=1)
    assert np.allclose(A.typicality_scores(run, x, 20, seed=1), np.abs(nll - h))


def test_ratio_is_the_difference_of_the_two_nlls(runs):
    run, bg = runs["gaussian"], runs["background"]
    assert bg.config.background_of == str(run.run_dir) and bg.config.perturbation > 0
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    assert A.ratio_scores(run, bg, x, nll=np.array([5.0, 1, 2, 3]), background_nll=np.array([1.0, 1, 5, 3])
                          ).tolist() == [4.0, 0.0, -3.0, 0.0]
    want = A.nll_scores(run.model, x, 30) - A.nll_scores(bg.model, x, 30)
    assert np.allclose(A.ratio_scores(run, bg, x, 30), want)
    with pytest.raises(ConfigError, match="takes \\(1, 8, 8\\) images with a bernoulli likelihood"):
        A.check_background(run, runs["bernoulli"])
    with pytest.raises(ConfigError, match="needs a background: --background RUN"):
        A.AnomalyScorer(run, "ratio")


def test_ratio_against_the_pixel_background_by_hand(runs):
    """--background pixels: P_pix from the run's training split as the model sees it, perturbed at a background
    run's rate; the ratio is -log p(x) + log P_pix(x) (for a density on 8-bit levels, P_pix as a density:
    -log P_pix(x) - D ln 256)."""
    from vaelab.data.pixel_model import IndependentPixels
    from vaelab.evaluation.anomaly import make_scorer
    from vaelab.runs.config import BACKGROUND_PERTURBATION

    for kind in ("gaussian", "bernoulli"):
        run = runs[kind]
        pix = A.pixel_background(run)
        train = vaelab.load_dataset("digits", binarize=run.config.binarize).train
        assert pix.perturbation == BACKGROUND_PERTURBATION == 0.3
        assert np.allclose(pix.log_probs, IndependentPixels.fit(train, kind == "bernoulli", 0.3).log_probs)
        x = train[:4]
        nll = np.array([5.0, 6.0, 7.0, 8.0])
        offset = 0.0 if kind == "bernoulli" else 64 * math.log(256)
        want = nll - (-pix.log_prob(x) - offset)
        assert np.allclose(A.ratio_scores(run, pix, x, nll=nll), want)
        scorer = make_scorer(run, "ratio", 30, background="pixels")
        assert isinstance(scorer.background, IndependentPixels) and "independent pixels" in scorer.describe()
        assert np.allclose(scorer.score(x), A.nll_scores(run.model, x, 30) - (-pix.log_prob(x) - offset))
    with pytest.raises(ConfigError, match="the pixel background takes \\(1, 8, 8\\) binary images"):
        A.check_background(runs["gaussian"], A.pixel_background(runs["bernoulli"]))


def test_the_default_complexity_compressor_is_png(runs):
    from vaelab.runs.anomaly_config import DEFAULT_COMPRESSOR

    assert DEFAULT_COMPRESSOR == "png"
    scorer = A.AnomalyScorer(runs["bernoulli"], "complexity", 20)
    assert scorer.compressor == "png" and "png compressed length" in scorer.describe()


def test_the_scorer_gives_each_method_s_function(runs):
    run = runs["gaussian"]
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    nll = A.nll_scores(run.model, x, 40, seed=0)
    assert np.allclose(A.AnomalyScorer(run, "nll", 40).score(x), nll)
    assert np.allclose(A.AnomalyScorer(run, "complexity", 40).score(x), A.complexity_scores(run, x, nll=nll))
    assert np.allclose(A.AnomalyScorer(run, "ratio", 40, background=runs["background"]).score(x),
                       A.ratio_scores(run, runs["background"], x, 40))
    typical = A.AnomalyScorer(run, "typicality", 40, batch=2)
    assert np.allclose(typical.score(x), A.typicality_of(nll, typical.reference(), 2))
    assert np.allclose(A.AnomalyScorer(run, "regret", regret_steps=3).score(x), A.regret_scores(run, x, 3))
    assert set(METHODS) == {"nll", "complexity", "typicality", "ratio", "regret"}


@pytest.mark.parametrize("kwargs,message", [
    (dict(method="likelihood"), "unknown method 'likelihood': expected one of nll, complexity"),
    (dict(method="nll", batch=4), "--batch M scores batches of M inputs with --method typicality"),
    (dict(method="regret", regret_steps=0), "--regret-steps must be >= 1"),
    (dict(method="complexity", compressor="gif"), "unknown compressor 'gif'"),
    (dict(method="nll", k=0), "k (importance samples) must be >= 1"),
])
def test_bad_settings_are_refused_in_one_line(runs, kwargs, message):
    with pytest.raises(ConfigError) as err:
        A.AnomalyScorer(runs["gaussian"], **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_autoencoder_has_no_scores(tmp_path):
    ae = vaelab.train(vaelab.TrainConfig.from_dict({**SMALL, "model": "ae", "epochs": 1, "out": str(tmp_path / "ae")}),
                      quiet=True)
    with pytest.raises(VaelabError, match="anomaly scores need a VAE run"):
        A.AnomalyScorer(ae, "complexity")


def test_corrected_score_ranks_blank_images_as_anomalous(tmp_path, shared_data):
    """The failure of -log p(x) on MNIST: an all-black image is likelier than the median digit. The complexity
    score (the default) ranks every blank image above the median digit."""
    config = dict(dataset="binarized-mnist", data_dir=str(shared_data), train_subset=2000, hidden=(128,),
                  latent_dim=8, epochs=5, batch_size=100, seed=0, device="cpu", warmup_epochs=0, max_minutes=0,
                  out=str(tmp_path / "bm"))
    run = vaelab.train(vaelab.TrainConfig.from_dict(config), quiet=True)
    test = vaelab.load_dataset("binarized-mnist", data_dir=shared_data).test
    digits = test[torch.randperm(test.shape[0], generator=torch.Generator().manual_seed(0))[:200]]
    blank = torch.zeros(5, 1, 28, 28)
    nll = A.AnomalyScorer(run, "nll", 100)
    assert np.max(nll.score(blank)) < np.median(nll.score(digits))  # -log p(x) calls blank images normal
    corrected = A.AnomalyScorer(run, k=100)  # the default method
    assert np.min(corrected.score(blank)) > np.max(corrected.score(digits))  # above every digit: ROC-AUC 1
