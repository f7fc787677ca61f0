"""Ground truth for the model family: flow log-determinants against autograd Jacobians, Monte-Carlo KL against
the analytic KL, the VampPrior against the Gaussian it reduces to, and importance sampling against the
closed-form log p(x) of a two-layer linear-Gaussian model."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Distribution, MultivariateNormal, constraints

from vaelab.models import DiagonalGaussian, LatentVariableModel, ModelConfig, build_model
from vaelab.models.flows import IAFPosterior, PlanarPosterior
from vaelab.models.hierarchy import HierarchicalPosterior, HierarchicalPrior
from vaelab.models.importance import log_likelihood
from vaelab.models.linear_gaussian import _GaussianHead
from vaelab.models.objectives import elbo
from vaelab.models.priors import MixtureOfDiagonalGaussians, StandardNormalPrior, VampPrior

D = 5


def _iaf_head(seed: int = 0) -> IAFPosterior:
    torch.manual_seed(seed)
    head = IAFPosterior(D, steps=2, hidden=16, context_dim=3).double()
    with torch.no_grad():  # move the gates off their identity start so the test is not trivial
        for step in head.steps:
            step.s.weight.normal_(0, 0.5)
            step.s.bias.normal_(0, 1.0)
    return head


def _encoder_out(head, batch: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, head.n_inputs, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_each_iaf_step_has_a_triangular_jacobian_with_the_gates_on_its_diagonal():
    head = _iaf_head()
    step = head.steps[0]
    h = torch.randn(1, 3, dtype=torch.float64)
    z = torch.randn(D, dtype=torch.float64)

    def transform(v):
        m, s = step(v[None], h)
        gate = torch.sigmoid(s)
        return (gate * v[None] + (1 - gate) * m)[0]

    jac = torch.autograd.functional.jacobian(transform, z)  # (D, D): row j = d out_j / d z
    assert torch.all(jac.triu(1) == 0)  # output j depends on z_<=j only
    _, s = step(z[None], h)
    torch.testing.assert_close(torch.diagonal(jac), torch.sigmoid(s[0]))


@pytest.mark.parametrize("make", [_iaf_head, lambda: PlanarPosterior(D, steps=3).double()])
def test_flow_log_q_is_base_log_density_minus_log_abs_det_of_the_autograd_jacobian(make):
    head = make()
    out = _encoder_out(head)
    q = head(out)
    eps = torch.randn(1, 1, D, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    z, log_q = q.rsample_with_log_prob(1, eps=eps)
    jac = torch.autograd.functional.jacobian(lambda e: q.rsample_with_log_prob(1, eps=e.reshape(1, 1, D))[0].reshape(D),
                                             eps.reshape(D))  # (D, D): dz / deps
    log_normal = -0.5 * (eps.square().sum() + D * math.log(2 * math.pi))
    expected = log_normal - torch.linalg.slogdet(jac).logabsdet
    torch.testing.assert_close(log_q.reshape(()), expected)


def test_iaf_log_prob_by_the_inverse_equals_the_log_q_of_its_samples():
    head = _iaf_head()
    q = head(_encoder_out(head, batch=3))
    z, log_q = q.rsample_with_log_prob(4)  # (4, 3, D), (4, 3)
    torch.testing.assert_close(q.log_prob(z), log_q)
    # with the parameters stopped, the gradient reaches z only
    z = z.detach().requires_grad_(True)
    q.detach().log_prob(z).sum().backward()
    assert z.grad is not None and all(p.grad is None for p in head.parameters())


class _NoClosedForm(Distribution):
    """N(0, I) that torch does not know a KL for: the ELBO must fall back to the Monte-Carlo KL."""

    arg_constraints: dict = {}
    support = constraints.real_vector

    def __init__(self, d):
        super().__init__(torch.Size(), torch.Size([d]), validate_args=False)

    def log_prob(self, z):
        return -0.5 * (z.square().sum(-1) + z.shape[-1] * math.log(2 * math.pi))


class _NoClosedFormPrior(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, encode=None):
        return _NoClosedForm(self.d)


def test_monte_carlo_kl_of_the_elbo_converges_to_the_analytic_kl():
    torch.manual_seed(0)
    cfg = ModelConfig(image_shape=(1, 1, 6), latent_dim=3, hidden=(8,), likelihood="bernoulli")
    analytic = build_model(cfg).double()
    mc = build_model(cfg).double()
    mc.load_state_dict(analytic.state_dict())
    mc.prior = _NoClosedFormPrior(3)
    x = torch.bernoulli(torch.full((4, 1, 1, 6), 0.4, dtype=torch.float64))
    with torch.no_grad():
        exact = elbo(analytic, x).kl  # (4,), closed form
        draws = elbo(mc, x, samples=200_000).kl  # (4,), mean of 200k Monte-Carlo terms
        single = torch.stack([elbo(mc, x).kl for _ in range(2000)])  # spread of one-sample estimates
    stderr = single.std(0) / math.sqrt(200_000)
    assert torch.all((draws - exact).abs() < 5 * stderr + 1e-9), (draws, exact, stderr)
    assert torch.all(stderr < 0.01 * exact.abs() + 1e-3)  # the check has power


def test_vampprior_with_one_pseudo_input_is_that_inputs_gaussian_posterior():
    torch.manual_seed(0)
    cfg = ModelConfig(image_shape=(1, 3, 3), latent_dim=4, hidden=(8,), likelihood="bernoulli", prior="vamp",
                      pseudo_inputs=1)
    model = build_model(cfg).double()
    p = model.prior_distribution()
    q = model.encode(model.prior.pseudo_inputs)  # the fixed encoder at u_1: N(mu, sigma^2)
    z = torch.randn(7, 4, dtype=torch.float64)
    torch.testing.assert_close(p.log_prob(z), q.log_prob(z)[..., :] if q.batch_shape == (1,) else q.log_prob(z))
    torch.testing.assert_close(p.log_prob(z), DiagonalGaussian(q.mu[0], q.logvar[0]).log_prob(z))


def test_mixture_log_prob_by_matrix_products_equals_the_broadcast_formula():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(7, 3, generator=g), torch.randn(7, 3, generator=g)
    weights = torch.randn(7, generator=g)
    z = 2 * torch.randn(5, 11, 3, generator=g)
    fast = MixtureOfDiagonalGaussians(mu, logvar, weights).log_prob(z)
    comps = DiagonalGaussian(mu, logvar).log_prob(z.unsqueeze(-2))  # (5, 11, 7) by broadcasting
    slow = torch.logsumexp(comps + torch.log_softmax(weights, 0), -1)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)


def _linear_two_layer_model(seed: int = 0):
    """p(z2) = N(0, I), p(z1|z2) = N(A z2 + a, s1^2 I), p(x|z) = N(B z1 + C z2 + c, s^2 I): all Gaussian, so p(x)
    is a Gaussian in closed form; q is a HierarchicalPosterior with its usual networks."""
    torch.manual_seed(seed)
    d1, d2, dx = 2, 2, 6
    dt = torch.float64
    prior = HierarchicalPrior(StandardNormalPrior(d2), d1, d2, 8, "tanh")
    lin = nn.Linear(d2, 2 * d1)
    with torch.no_grad():
        lin.weight[d1:].zero_()  # log s1^2 does not depend on z2
        lin.bias[d1:].fill_(math.log(0.5 ** 2))
    prior.p1 = lin
    decoder = nn.Linear(d1 + d2, dx)
    model = LatentVariableModel(_Enc(dx, 2 * d2 + 8), HierarchicalPosterior(d1, d2, 8, "tanh"), prior,
                                _Dec(decoder), _GaussianHead(math.log(0.4)), d1 + d2, (1, 1, dx)).to(dt)
    A, a = lin.weight[:d1].double(), lin.bias[:d1].double()
    W = decoder.weight.double()
    B, C, c = W[:, :d1], W[:, d1:], decoder.bias.double()
    # x = B z1 + C z2 + c + noise, z1 = A z2 + a + s1 e1: x = (B A + C) z2 + B s1 e1 + B a + c + s e
    M = B @ A + C
    cov = M @ M.T + 0.25 * B @ B.T + 0.16 * torch.eye(dx, dtype=dt)
    exact = MultivariateNormal(B @ a + c, covariance_matrix=cov)
    return model, exact


class _Enc(nn.Module):
    def __init__(self, dx, out):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dx, 16), nn.Tanh(), nn.Linear(16, out))

    def forward(self, x, c=None):
        return self.net(x.flatten(1))


class _Dec(nn.Module):
    def __init__(self, lin):
        super().__init__()
        self.lin = lin

    def forward(self, z, c=None):
        return self.lin(z)


def test_importance_sampling_converges_to_the_closed_form_log_px_of_a_two_layer_linear_gaussian_model():
    model, exact = _linear_two_layer_model()
    with torch.no_grad():
        x = exact.sample((8,)).reshape(8, 1, 1, 6)
        truth = exact.log_prob(x.flatten(1))
    # fit q(z2|x) q(z1|x, z2) a little (the generative part stays fixed): a proposal, not the truth
    encoder_params = model.parameter_groups()["encoder"]
    opt = torch.optim.Adam(encoder_params, lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        elbo(model, x, samples=8).loss.backward()
        opt.step()
    with torch.no_grad():
        small = log_likelihood(model, x, k=1, seed=1)
        big = log_likelihood(model, x, k=50_000, seed=1)
    torch.testing.assert_close(big, truth, atol=0.02, rtol=0)
    assert float((truth - small).mean()) > 0.05  # k = 1 is visibly below it: the test has power


@pytest.mark.parametrize("layers", [1, 2])
def test_vampprior_shares_one_encoder_pass_and_gets_the_same_numbers(layers):
    torch.manual_seed(0)
    cfg = ModelConfig(image_shape=(1, 3, 3), latent_dim=4, hidden=(8,), likelihood="bernoulli", prior="vamp",
                      pseudo_inputs=6, stochastic_layers=layers)
    model = build_model(cfg).double()
    x = torch.rand(5, 1, 3, 3, dtype=torch.float64).round()
    q, p = model.posterior_and_prior(x)
    z = q.rsample((3,))
    torch.testing.assert_close(q.log_prob(z), model.encode(x).log_prob(z))
    torch.testing.assert_close(p.log_prob(z), model.prior_distribution().log_prob(z))


def test_mixture_log_prob_stays_exact_for_narrow_components_far_from_the_origin():
    """The expanded quadratic form cancels terms of size mu^2 / s^2; it is computed in float64 so that narrow
    components (s = 0.003) at |mu| ~ 60, as a trained VampPrior makes them, lose nothing."""
    g = torch.Generator().manual_seed(1)
    mu = 60 + torch.randn(5, 50, generator=g)
    logvar = torch.full((5, 50), -12.0)
    z = mu[2] + 0.003 * torch.randn(7, 50, generator=g)  # samples near component 2
    fast = MixtureOfDiagonalGaussians(mu, logvar).log_prob(z)
    exact = torch.logsumexp(DiagonalGaussian(mu.double(), logvar.double()).log_prob(z.double().unsqueeze(-2))
                            - math.log(5), -1)
    torch.testing.assert_close(fast.double(), exact, atol=1e-3, rtol=0)
