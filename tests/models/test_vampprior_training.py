"""The VampPrior trains: its weight initialisation (He's by default) and its joint encoder pass.

Under torch's default initialisation a tanh MLP encoder starts with means that barely depend on x; with a
VampPrior (whose KL is indifferent to the latent scale) the posteriors then shrink onto each other and the
encoder never starts using x (docs/models.md). These tests pin the mechanism, the fix and the control."""

from __future__ import annotations

import pytest
import torch

from vaelab.data import load_dataset
from vaelab.errors import ConfigError
from vaelab.models import ModelConfig, build_model
from vaelab.models.networks import ConvEncoder, MLPEncoder
from vaelab.models.objectives import elbo
from vaelab.training.step import make_optimizer


def _config(**kw) -> ModelConfig:
    return ModelConfig(**kw).resolved((1, 28, 28), "binary")


def test_the_vampprior_defaults_to_he_initialisation_and_other_priors_to_torchs():
    assert _config(prior="vamp").init == "he"
    assert _config(prior="vamp", stochastic_layers=2).init == "he"
    assert _config().init == "pytorch"
    assert _config(prior="mog").init == "pytorch"
    assert _config(prior="vamp", init="pytorch").init == "pytorch"  # an explicit choice wins
    assert _config(init="he").init == "he"
    with pytest.raises(ConfigError, match="unknown init 'xavier'"):
        ModelConfig(init="xavier")


def test_a_model_config_written_before_the_init_field_still_loads():
    old = _config().to_dict()
    del old["init"]
    assert ModelConfig.from_dict(old).weight_init == "pytorch"


def test_he_initialisation_gives_kaiming_normal_weights_and_zero_biases():
    torch.manual_seed(0)
    model = build_model(_config(prior="vamp", hidden=(300, 300)))
    first = model.encoder.net[0]  # Linear(784, 300)
    assert first.weight.std().item() == pytest.approx((2 / 784) ** 0.5, rel=0.03)
    assert torch.count_nonzero(first.bias) == 0
    torch.manual_seed(0)
    default = build_model(_config(hidden=(300, 300))).encoder.net[0]
    bound = 1 / 784 ** 0.5  # torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert default.weight.abs().max().item() <= bound
    assert torch.count_nonzero(default.bias) > 0


@pytest.mark.parametrize("make", [
    lambda: MLPEncoder((1, 28, 28), (64, 32), 20, "tanh"),
    lambda: MLPEncoder((1, 28, 28), (64, 32), 20, "tanh", gated=True),
    lambda: ConvEncoder((1, 28, 28), (8, 16), (32,), 20, "relu"),
])
def test_the_joint_encoder_pass_equals_one_pass_over_the_concatenated_inputs(make):
    torch.manual_seed(0)
    enc = make()
    x = torch.rand(5, 1, 28, 28).round()
    raw = torch.randn(7, 1, 28, 28, requires_grad=True)
    joint = enc.joint(x, torch.sigmoid(raw))  # (12, 20)
    plain = enc(torch.cat([x, torch.sigmoid(raw)]))
    torch.testing.assert_close(joint, plain, rtol=1e-5, atol=1e-6)
    w = torch.randn_like(plain)
    g_joint = torch.autograd.grad((joint * w).sum(), [raw, *enc.parameters()])
    g_plain = torch.autograd.grad((plain * w).sum(), [raw, *enc.parameters()])
    for a, b in zip(g_joint, g_plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def _train_vampprior(x: torch.Tensor, init: str, steps: int = 400) -> tuple[float, float]:
    """``steps`` Adam steps of a VampPrior VAE (the default network, K = 500) under the default KL warm-up's
    first steps (beta = step / 25,000: 50 epochs of 500 steps); returns the last 50 steps' mean reconstruction
    term and the encoder means' spread over the last batch."""
    torch.manual_seed(0)
    model = build_model(_config(prior="vamp", init=init))
    model.initialise_from_data(x, torch.Generator().manual_seed(0))
    opt = make_optimizer(model, 1e-3)
    gen = torch.Generator().manual_seed(1)
    recs = []
    for step in range(steps):
        xb = x[torch.randint(0, x.shape[0], (100,), generator=gen)]
        out = elbo(model, xb, beta=step / 25_000, generator=gen)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        recs.append(out.reconstruction.mean().item())
    return sum(recs[-50:]) / 50, out.posterior.mu.std(0).mean().item()


def test_a_vampprior_starts_using_its_latent_code_under_kl_warm_up(shared_data):
    x = load_dataset("binarized-mnist", data_dir=shared_data).train[:10_000]
    rec_he, spread_he = _train_vampprior(x, "he")
    rec_torch, spread_torch = _train_vampprior(x, "pytorch")
    # the fix: the encoder's means spread over x and the reconstruction leaves the pixel marginals (~ -205 nats)
    assert rec_he > -160 and spread_he > 0.3, (rec_he, spread_he)
    # the control (what --init pytorch still does): collapsed, so the test above is not passing by default
    assert rec_torch < -190 and spread_torch < 0.05, (rec_torch, spread_torch)
