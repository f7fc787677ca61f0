"""Likelihood regret: the batched fine-tuning against the same step taken by hand on a copy of the model."""

from __future__ import annotations

import copy

import pytest
import torch

from vaelab.errors import ConfigError
from vaelab.models import ModelConfig, build_model
from vaelab.models.objectives import analytic_kl
from vaelab.models.regret import encoder_parameters, likelihood_regret


def _model(**overrides) -> torch.nn.Module:
    config = dict(image_shape=(1, 4, 4), likelihood="bernoulli", hidden=(8,), latent_dim=2, **overrides)
    torch.manual_seed(0)
    return build_model(ModelConfig(**config)).eval()


def _x(n: int) -> torch.Tensor:
    return (torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(3)) > 0.5).float()


def _elbo(model, x, eps):
    """ELBO per image (B,) with the analytic KL, the noise eps (S, B, D) given."""
    q, p = model.encode(x), model.prior_distribution()
    z = q.rsample(eps=eps)
    return model.log_likelihood(x, z).mean(0) - analytic_kl(q, p)


def test_one_adam_step_matches_a_hand_computed_step():
    """Adam's first step moves each parameter by -lr * sign(gradient) (m / sqrt(v) = g / |g| after the bias
    corrections): regret after one step, image by image, equals the ELBO of a copy moved that way by hand."""
    model, x, lr = _model(), _x(3), 1e-2
    regret = likelihood_regret(model, x, steps=1, lr=lr, samples=1, eval_samples=4, batch_size=3, seed=7)
    gen = torch.Generator().manual_seed(7)
    eval_eps = model.noise(4, 3, gen)  # drawn first (the before / after noise), then the step's noise
    step_eps = model.noise(1, 3, gen)
    for i in range(3):
        xi = x[i:i + 1]
        moved = copy.deepcopy(model)
        loss = -_elbo(moved, xi, step_eps[:, i:i + 1]).sum()
        params = list(encoder_parameters(moved).values())
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g / (g.abs() + 1e-8)  # Adam's first step: lr * m_hat / (sqrt(v_hat) + eps)
            want = _elbo(moved, xi, eval_eps[:, i:i + 1]) - _elbo(model, xi, eval_eps[:, i:i + 1])
        assert regret[i].item() == pytest.approx(want.item(), abs=1e-4)


def test_no_steps_no_regret_and_the_trained_model_is_untouched():
    model, x = _model(), _x(5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert torch.equal(likelihood_regret(model, x, steps=0), torch.zeros(5, dtype=torch.float64))
    likelihood_regret(model, x, steps=3, batch_size=2)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fine_tuning_on_one_input_improves_its_elbo():
    model, x = _model(), _x(6)
    regret = likelihood_regret(model, x, steps=30, lr=3e-3, eval_samples=256)
    assert regret.shape == (6,) and bool((regret > 0).all())
    iwae = likelihood_regret(model, x, steps=30, lr=3e-3, eval_samples=256, bound="iwae")
    assert float(iwae.abs().max()) < float(regret.max())  # the encoder's gap is mostly the ELBO's, not IWAE's


def test_bad_settings_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="unknown bound 'kl'"):
        likelihood_regret(_model(), _x(1), bound="kl")
    with pytest.raises(ConfigError, match="regret needs steps >= 0"):
        likelihood_regret(_model(), _x(1), steps=-1)
    with pytest.raises(ConfigError, match="needs a VAE"):
        likelihood_regret(_model(kind="ae"), _x(1))
