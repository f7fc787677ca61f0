"""Ground truth from probabilistic PCA, where log p(x), the posterior and the ELBO are in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from vaelab.evaluation.gradvar import gradient_moments
from vaelab.models.importance import log_likelihood, log_weights
from vaelab.models.linear_gaussian import LinearGaussianVAE
from vaelab.models.objectives import iwae


def ppca(exact: bool, data_dim: int = 6, latent_dim: int = 2, seed: int = 0) -> tuple[LinearGaussianVAE, torch.Tensor]:
    model = LinearGaussianVAE(data_dim, latent_dim, noise_std=0.6, seed=seed)
    if exact:
        model.set_exact_posterior()
    g = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(8, latent_dim, generator=g, dtype=torch.float64)
    with torch.no_grad():
        x = model.decoder_distribution(z).sample()  # data drawn from the model itself
    return model, x.reshape(8, 1, 1, data_dim)


def test_exact_posterior_makes_every_importance_weight_equal_to_p_x():
    model, x = ppca(exact=True)
    with torch.no_grad():
        lw = log_weights(model, x, samples=64)  # (64, 8)
        truth = model.exact_log_prob(x)
        torch.testing.assert_close(lw, truth.expand_as(lw), atol=1e-9, rtol=0)
        torch.testing.assert_close(model.analytic_elbo(x), truth, atol=1e-9, rtol=0)  # ELBO = log p(x)
        out = model(x, samples=20000)  # Monte-Carlo reconstruction term, analytic KL
        torch.testing.assert_close(out.elbo, truth, atol=0.05, rtol=0)
        ll = log_likelihood(model, x, k=100)
        torch.testing.assert_close(ll, truth, atol=1e-9, rtol=0)


def test_stl_gradient_has_zero_variance_at_the_exact_posterior_and_pathwise_does_not():
    model, x = ppca(exact=True)
    stl = gradient_moments(model, x, "stl", draws=30)
    path = gradient_moments(model, x, "pathwise", draws=30)
    assert float(stl["encoder"][1].max()) < 1e-20  # every draw gives the same encoder gradient
    assert float(stl["encoder"][0].abs().max()) < 1e-9  # ... and it is zero: q is already optimal
    assert float(path["encoder"][1].sum()) > 1e-3


def test_importance_sampled_estimate_converges_to_the_exact_log_likelihood():
    model, x = ppca(exact=False)
    with torch.no_grad():
        truth = model.exact_log_prob(x)
    errors = []
    for k in (1, 10, 100, 1000, 10000):
        est = log_likelihood(model, x, k=k, seed=1)
        errors.append(float((est - truth).abs().mean()))
    assert errors[-1] < 0.05, errors  # nats, from 1.5 at k=1
    assert all(a > b for a, b in zip(errors[:-1], errors[1:])), errors


def test_elbo_below_iwae_k_below_iwae_2k_below_log_p_x_on_average():
    model, x = ppca(exact=False)
    repeats = 4000
    with torch.no_grad():
        truth = model.exact_log_prob(x).mean()
        elbo = model.analytic_elbo(x).mean()
        bounds = {}
        for k in (1, 2, 4, 8, 16):
            lw = log_weights(model, x.repeat(repeats, 1, 1, 1), samples=k).reshape(k, repeats, 8)
            per = torch.logsumexp(lw, 0) - math.log(k)  # (repeats, 8)
            bounds[k] = (per.mean(), per.mean(1).std() / math.sqrt(repeats))
    torch.testing.assert_close(bounds[1][0], elbo, atol=float(4 * bounds[1][1]), rtol=0)  # IWAE_1 = ELBO
    chain = [elbo] + [bounds[k][0] for k in (2, 4, 8, 16)] + [truth]
    for a, b in zip(chain[:-1], chain[1:]):
        assert a < b, [float(c) for c in chain]
    assert truth - bounds[16][0] < 0.8 * (truth - elbo)  # the gap shrinks as k grows


def _true_gradient(model: LinearGaussianVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad()
    (-model.analytic_elbo(x).mean()).backward()
    groups = model.parameter_groups()
    out = {g: torch.cat([p.grad.flatten() for p in ps]) for g, ps in groups.items()}
    model.zero_grad()
    return out


@pytest.mark.parametrize("estimator,draws", [("pathwise", 3000), ("stl", 3000), ("score-function", 20000)])
def test_each_estimator_is_unbiased_against_the_closed_form_gradient(estimator, draws):
    model, x = ppca(exact=False, data_dim=4, latent_dim=2)
    truth = _true_gradient(model, x)
    moments = gradient_moments(model, x, estimator, draws=draws, seed=2)
    for group in ("encoder", "decoder"):
        mean, var = moments[group]
        se = (var / draws).sqrt()
        z = (mean - truth[group]).abs() / se.clamp_min(1e-12)
        assert float(z.max()) < 4.5, (group, z)


def test_score_function_is_far_noisier_than_pathwise_and_stl_quieter_near_the_optimum():
    model, x = ppca(exact=False, data_dim=4, latent_dim=2)
    var = {e: float(gradient_moments(model, x, e, draws=2000, seed=3)["encoder"][1].sum())
           for e in ("pathwise", "stl", "score-function")}
    assert var["score-function"] > 5 * var["pathwise"], var
    no_cv = float(gradient_moments(model, x, "score-function", draws=2000, seed=3,
                                   use_baseline=False)["encoder"][1].sum())
    assert no_cv > var["score-function"], (no_cv, var)  # the running-mean baseline reduces variance
    model.set_exact_posterior()
    with torch.no_grad():
        model.A.add_(0.01)  # near the optimum STL's variance is far below the pathwise one
    near = {e: float(gradient_moments(model, x, e, draws=500, seed=4)["encoder"][1].sum()) for e in ("pathwise", "stl")}
    assert near["stl"] < 0.1 * near["pathwise"], near


def test_iwae_objective_with_one_sample_is_the_sampled_elbo():
    model, x = ppca(exact=False)
    with torch.no_grad():
        torch.manual_seed(0)
        out = iwae(model, x, k=1)
        torch.manual_seed(0)
        lw = log_weights(model, x, samples=1)[0]
    torch.testing.assert_close(out.iwae, lw)
