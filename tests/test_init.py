"""Weight initialisation: the reference's kaiming-uniform (ReLU gain) on every layer, and the
beta-VAE_B failure it prevents (an encoder whose ReLUs all die in the first steps)."""
import math

import numpy as np
import pytest
import torch

from disvae.datasets import load_dataset
from disvae.losses.betab import BetaBLoss
from disvae.models import build_model
from disvae.models.discriminator import Discriminator
import disvae.models.vae

LAYERS = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)


def layers(module):
    return [m for m in module.modules() if isinstance(m, LAYERS)]


@pytest.mark.parametrize("network", ["Burgess", "Higgins", "discriminator"])
def test_weights_are_uniform_with_the_relu_gain(network):
    torch.manual_seed(0)
    net = Discriminator(10) if network == "discriminator" else build_model(network, (1, 64, 64), 10)
    for layer in layers(net):
        w = layer.weight.detach().double()
        fan_in = w.shape[1] * math.prod(w.shape[2:])  # torch's convention, transposed convs included
        bound = math.sqrt(6 / fan_in)  # U(-b, b) with variance b^2 / 3 = 2 / fan_in
        assert w.abs().max() <= bound
        # PyTorch's default would give 1 / (3 fan_in), 6 times less; 512+ draws: ~4% error
        assert w.var().item() == pytest.approx(2 / fan_in, rel=0.2), layer


def posterior_mean_spread_after_betab_steps(n_steps=60):
    """Std over 64 dSprites images of the posterior mean, averaged over latents, after
    `n_steps` of beta-VAE_B (gamma 100, lr 1e-3: hyperparam.ini's betaB_dsprites)."""
    torch.manual_seed(1235)
    rng = np.random.RandomState(1235)
    data = load_dataset("dsprites")
    model = build_model("Burgess", (1, 64, 64), 10)
    loss_f = BetaBLoss(C_init=0, C_fin=25, gamma=100, steps_anneal=5787).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(n_steps):
        x = data.get_batch(rng.randint(0, len(data), 64))
        loss, _ = loss_f(model, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x = data.get_batch(np.arange(0, len(data), len(data) // 64)[:64])
    with torch.no_grad():
        mean, _ = model.encoder(x)
    return mean.std(0).mean().item()


def test_betab_encoder_still_depends_on_the_image():
    # with PyTorch's default init this is below 0.001 by step 20 (the encoder is dead)
    assert posterior_mean_spread_after_betab_steps() > 0.02  # 0.08 measured


def test_default_init_kills_the_betab_encoder(monkeypatch):
    # the known limit the previous test guards against: without init_weights, dead by step 60
    monkeypatch.setattr(disvae.models.vae, "init_weights", lambda model: model)
    assert posterior_mean_spread_after_betab_steps() < 1e-3


def test_chen_model_keeps_pytorchs_default_init_and_tanh_decoder():
    """-m Chen is Chen et al. (2018)'s MLP: PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    (variance 1 / (3 fan_in)), ReLU encoder, tanh decoder, the Higgins layer sizes."""
    torch.manual_seed(0)
    chen, higgins = build_model("Chen", (1, 64, 64), 10), build_model("Higgins", (1, 64, 64), 10)
    assert [p.shape for p in chen.parameters()] == [p.shape for p in higgins.parameters()]
    for layer in layers(chen):
        w = layer.weight.detach().double()
        bound = 1 / math.sqrt(w.shape[1])
        assert w.abs().max() <= bound
        assert w.var().item() == pytest.approx(1 / (3 * w.shape[1]), rel=0.2), layer
    kinds = lambda net: [type(m).__name__ for m in net.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.Tanh))]
    assert kinds(chen.encoder) == ["ReLU"] * 2 and kinds(chen.decoder) == ["Tanh"] * 3
    assert kinds(higgins.decoder) == ["ReLU"] * 3
    z = torch.randn(4, 10)
    hidden = chen.decoder.net[:6](z)  # after the third linear layer's input: tanh outputs
    assert hidden.abs().max() < 1
