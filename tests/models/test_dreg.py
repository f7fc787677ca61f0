"""Doubly reparameterized gradients (Tucker et al. 2019) against ground truth on probabilistic PCA."""

from __future__ import annotations

import pytest
import torch

from vaelab.errors import ConfigError
from vaelab.evaluation.gradvar import gradient_moments, snr_against_k, snr_slopes
from vaelab.models.config import check_objective
from vaelab.models.linear_gaussian import LinearGaussianVAE
from vaelab.models.objectives import iwae, stl


def ppca(exact: bool, data_dim: int = 4, latent_dim: int = 2, n: int = 8, seed: int = 0):
    model = LinearGaussianVAE(data_dim, latent_dim, noise_std=0.6, seed=seed)
    if exact:
        model.set_exact_posterior()
    g = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(n, latent_dim, generator=g, dtype=torch.float64)
    with torch.no_grad():
        x = model.decoder_distribution(z).sample()  # data drawn from the model itself
    return model, x.reshape(n, 1, 1, data_dim)


def _grads(model, loss) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    out = {g: torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in ps])
           for g, ps in model.parameter_groups().items()}
    model.zero_grad(set_to_none=True)
    return out


def test_dreg_encoder_gradient_is_zero_for_every_draw_at_the_exact_posterior():
    model, x = ppca(exact=True)
    for seed in range(20):
        eps = torch.randn(10, x.shape[0], 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        g = _grads(model, iwae(model, x, 10, eps=eps, estimator="dreg").loss)
        assert float(g["encoder"].abs().max()) < 1e-10, g["encoder"]
        path = _grads(model, iwae(model, x, 10, eps=eps, estimator="pathwise").loss)
        assert float(path["encoder"].abs().max()) > 1e-3  # the pathwise one is not: its score term is noise


def test_dreg_at_one_sample_equals_stl():
    model, x = ppca(exact=False)
    eps = torch.randn(1, x.shape[0], 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    dreg = _grads(model, iwae(model, x, 1, eps=eps, estimator="dreg").loss)
    sticking = _grads(model, stl(model, x, 1, eps=eps).loss)
    for group in ("encoder", "decoder"):
        torch.testing.assert_close(dreg[group], sticking[group], atol=1e-12, rtol=1e-10)


def _means(model, x, estimator, k, blocks, seed, per_block=25):
    """Mean gradient and its standard error over blocks x per_block draws: each backward pass averages
    ``per_block`` independent draws (x repeated), and the standard error comes from the block means."""
    torch.manual_seed(seed)
    xs = x.repeat(per_block, 1, 1, 1)
    means = []
    for _ in range(blocks):
        g = _grads(model, iwae(model, xs, k, estimator=estimator).loss)
        means.append(torch.cat([g["encoder"], g["decoder"]]))
    m = torch.stack(means)  # (blocks, P)
    return m.mean(0), m.std(0) / blocks ** 0.5


def test_dreg_is_unbiased_and_stl_under_iwae_is_not():
    """Mean DReG gradient = mean pathwise IWAE gradient (the same expectation) within 4.5 standard errors on
    the parameters measured to 5%; the same test rejects STL applied to IWAE (biased for k > 1)."""
    model, x = ppca(exact=False, n=4)
    k, blocks = 8, 200  # 200 x 25 = 5000 draws of each estimator
    path, path_se = _means(model, x, "pathwise", k, blocks, seed=1)
    dreg, dreg_se = _means(model, x, "dreg", k, blocks, seed=2)
    biased, biased_se = _means(model, x, "stl", k, blocks, seed=3)
    se = (path_se ** 2 + dreg_se ** 2).sqrt()
    measured = (path_se < 0.05 * path.abs()) & (dreg_se < 0.05 * dreg.abs())
    n_enc = sum(p.numel() for p in model.parameter_groups()["encoder"])
    assert int(measured[:n_enc].sum()) >= 5, "too few encoder parameters measured to 5%: the test would be vacuous"
    z = ((dreg - path).abs() / se)[measured]
    assert float(z.max()) < 4.5, z
    se_b = (path_se ** 2 + biased_se ** 2).sqrt()
    z_b = ((biased - path).abs() / se_b)[measured]
    assert float(z_b.max()) > 4.5, z_b  # the negative control fails the same test


def test_pathwise_encoder_snr_falls_with_k_and_dregs_does_not():
    """Near the optimum (as after training): Rainforth et al.'s O(1/sqrt(k)) fall for the pathwise encoder
    gradient; DReG's SNR rises."""
    model = LinearGaussianVAE(4, 2, noise_std=0.6, seed=0)
    model.set_exact_posterior()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():  # move q a little away from the exact posterior
        model.A.add_(0.2 * torch.randn(model.A.shape, generator=g, dtype=torch.float64))
        model.enc_logvar.add_(0.6)
        x = model.decoder_distribution(torch.randn(1, 2, generator=g, dtype=torch.float64)).sample().reshape(1, 1, 1, 4)
    rows = snr_against_k(model, x, (1, 16), ("pathwise", "dreg"), draws=2000, seed=4)
    snr = {(r["estimator"], r["k"]): r["snr_median"] for r in rows if r["group"] == "encoder"}
    floor = rows[0]["snr_floor"]  # 1/sqrt(2000) = 0.022
    assert snr[("pathwise", 1)] > 10 * floor and snr[("dreg", 1)] > 10 * floor, snr  # measured, not noise
    assert snr[("pathwise", 16)] < 0.4 * snr[("pathwise", 1)], snr  # 1/sqrt(16) = 0.25 expected
    assert snr[("dreg", 16)] > 1.2 * snr[("dreg", 1)], snr
    slopes = snr_slopes(rows)
    assert slopes["pathwise"]["encoder"] < -0.3 and slopes["dreg"]["encoder"] > 0.05, slopes


def test_estimator_choices_say_why_in_one_line():
    check_objective("iwae", "dreg")
    with pytest.raises(ConfigError, match="biased for k > 1"):
        check_objective("iwae", "stl")
    with pytest.raises(ConfigError, match="use it with --objective iwae"):
        check_objective("elbo", "dreg")


def test_a_prior_made_of_the_encoder_keeps_its_direct_path_under_dreg():
    """With a VampPrior, the pseudo-inputs reach the loss only through p(z): DReG rescales the path through the
    samples z, not that one, so their gradient equals the pathwise estimator's for the same noise."""
    from vaelab.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 3, 3), latent_dim=3, hidden=(8,), likelihood="bernoulli",
                                    prior="vamp", pseudo_inputs=4)).double()
    x = torch.rand(5, 1, 3, 3, dtype=torch.float64).round()
    eps = torch.randn(6, 5, 3, dtype=torch.float64)
    grads = {}
    for est in ("pathwise", "dreg"):
        model.zero_grad(set_to_none=True)
        iwae(model, x, 6, eps=eps, estimator=est).loss.backward()
        grads[est] = model.prior.raw.grad.clone()
    assert float(grads["dreg"].abs().max()) > 0
    torch.testing.assert_close(grads["dreg"], grads["pathwise"])


def test_dreg_trains_and_refuses_posteriors_it_cannot_stop(tmp_path, capsys):
    from vaelab.cli.main import main

    base = ["train", "--dataset", "digits", "--hidden", "16", "--latent-dim", "3", "--epochs", "1", "--warmup-epochs",
            "0", "--device", "cpu", "--quiet", "--objective", "iwae", "--k", "4", "--estimator", "dreg"]
    assert main(base + ["--out", str(tmp_path / "ok")]) == 0
    assert main(base + ["--stochastic-layers", "2", "--out", str(tmp_path / "h")]) == 2
    assert "Bauer & Mnih" in capsys.readouterr().err
    assert main(base + ["--posterior", "planar", "--out", str(tmp_path / "p")]) == 2
    assert "no closed-form inverse" in capsys.readouterr().err
