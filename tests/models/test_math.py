"""The ELBO's mathematics: analytic KL, reparameterization gradients, ELBO <= log p(x)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vaelab.errors import ConfigError
from vaelab.models import VAE, DiagonalGaussian, LatentVariableModel, ModelConfig, check_likelihood
from vaelab.models.objectives import elbo


def small_vae(likelihood: str = "bernoulli", latent_dim: int = 1, shape=(1, 1, 5), **kw) -> LatentVariableModel:
    return VAE(ModelConfig(image_shape=shape, latent_dim=latent_dim, hidden=(16,), activation="tanh",
                           likelihood=likelihood, **kw)).double()


def test_analytic_kl_matches_closed_form_and_monte_carlo():
    vae = small_vae(latent_dim=3)
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -2.0, 1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    post = DiagonalGaussian(mu, logvar)
    prior = vae.prior_distribution()
    kl = torch.distributions.kl_divergence(post, prior)
    closed = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1)
    torch.testing.assert_close(kl, closed)
    assert kl[1].item() == 0.0  # q = prior
    # Monte-Carlo: E_q[log q(z) - log p(z)] with 400k samples
    z = post.sample((400_000,))
    mc = (post.log_prob(z) - prior.log_prob(z)).mean(0)
    se = (post.log_prob(z) - prior.log_prob(z)).std(0) / math.sqrt(400_000)
    assert torch.all((mc - closed).abs() <= 5 * se + 1e-12), (mc, closed, se)


def test_reparameterized_sample_is_mu_plus_sigma_eps_and_carries_gradients():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[0.5, -1.0]], requires_grad=True)
    gen = torch.Generator().manual_seed(3)
    z = DiagonalGaussian(mu, logvar).rsample((4,), generator=gen)  # (4, 1, 2)
    eps = torch.randn((4, 1, 2), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(z, mu + torch.exp(0.5 * logvar) * eps)
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.full_like(mu, 4.0))  # dz/dmu = 1 per sample
    torch.testing.assert_close(logvar.grad, (0.5 * torch.exp(0.5 * logvar) * eps).sum(0))


def test_elbo_gradients_reach_encoder_through_the_sample():
    vae = small_vae(latent_dim=2)
    x = torch.bernoulli(torch.full((6, 1, 1, 5), 0.5, dtype=torch.float64))
    out = elbo(vae, x, samples=3)
    # the reconstruction term alone (no KL) depends on the encoder only through z
    out.reconstruction.sum().backward()
    enc_grads = [p.grad for p in vae.encoder.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in enc_grads)


def _log_px_by_quadrature(vae: LatentVariableModel, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log int p(x|z) N(z; 0, 1) dz for a 1-D latent, trapezoid-free fine grid."""
    grid = torch.linspace(-12, 12, 48001, dtype=torch.float64)
    dz = grid[1] - grid[0]
    with torch.no_grad():
        logp = vae.decoder_distribution(grid[:, None, None].expand(-1, x.shape[0], 1)).log_prob(x.flatten(1))
        logp = logp + Normal(0.0, 1.0).log_prob(grid)[:, None]  # (G, B)
    return torch.logsumexp(logp, 0) + torch.log(dz)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "continuous-bernoulli"])
def test_elbo_is_below_exact_log_likelihood(likelihood):
    torch.manual_seed(1)
    vae = small_vae(likelihood)
    x = torch.rand(4, 1, 1, 5, dtype=torch.float64)
    if likelihood == "bernoulli":
        x = x.round()
    log_px = _log_px_by_quadrature(vae, x)
    with torch.no_grad():
        out = elbo(vae, x, samples=200_000)
    gap = log_px - out.elbo
    assert torch.all(gap > 0), gap
    # the gap is KL(q(z|x) || p(z|x)): check it against the same quadrature
    grid = torch.linspace(-12, 12, 48001, dtype=torch.float64)
    dz = grid[1] - grid[0]
    with torch.no_grad():
        post = vae.encode(x)
        log_joint = vae.decoder_distribution(grid[:, None, None].expand(-1, 4, 1)).log_prob(x.flatten(1)) \
            + Normal(0.0, 1.0).log_prob(grid)[:, None]
        log_post = log_joint - log_px  # (G, B) exact posterior density
        log_q = Normal(post.mu[:, 0], post.std[:, 0]).log_prob(grid[:, None])
        kl_exact = (log_q.exp() * (log_q - log_post)).sum(0) * dz
    torch.testing.assert_close(gap, kl_exact, atol=0.02, rtol=0.02)


def test_gaussian_likelihood_matches_hand_computed_density():
    vae = small_vae("gaussian", latent_dim=2)
    z = torch.randn(3, 2, dtype=torch.float64)
    x = torch.rand(3, 5, dtype=torch.float64)
    out = vae.decoder(z)
    mean = torch.sigmoid(out)
    logvar = vae.likelihood._log_variance(out)
    hand = (-0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / logvar.exp())).sum(-1)
    torch.testing.assert_close(vae.decoder_distribution(z).log_prob(x), hand)


def test_loss_is_negative_mean_elbo_and_beta_only_changes_the_loss():
    vae = small_vae(latent_dim=2)
    x = torch.bernoulli(torch.full((8, 1, 1, 5), 0.3, dtype=torch.float64))
    out = elbo(vae, x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.loss, -out.elbo.mean())
    torch.testing.assert_close(out.elbo, out.reconstruction - out.kl)
    out2 = elbo(vae, x, beta=0.5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out2.elbo, out.elbo)  # the reported ELBO stays the true bound
    torch.testing.assert_close(out2.loss, -(out.reconstruction - 0.5 * out.kl).mean())


def test_bernoulli_refused_on_grayscale():
    with pytest.raises(ConfigError, match="bernoulli likelihood needs binary pixels"):
        check_likelihood("bernoulli", "continuous")
    check_likelihood("bernoulli", "binary")
    check_likelihood("gaussian", "continuous")


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "continuous-bernoulli"])
def test_fast_log_prob_equals_the_distribution_objects(likelihood):
    vae = small_vae(likelihood, latent_dim=2)
    z = torch.randn(4, 3, 2, dtype=torch.float64)
    x = torch.rand(3, 5, dtype=torch.float64)
    if likelihood == "bernoulli":
        x = x.round()
    out = vae.decoder(z)
    torch.testing.assert_close(vae.likelihood.log_prob(out, x), vae.decoder_distribution(z).log_prob(x))
