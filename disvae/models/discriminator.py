"""FactorVAE discriminator (Kim & Mnih, 2018): a 6-layer MLP of 1000 units,
LeakyReLU(0.2), two logits: column 0 "sample of q(z)", column 1 "sample of prod_j q(z_j)".
"""
from torch import nn

from disvae.models.init import init_weights


class Discriminator(nn.Module):
    def __init__(self, latent_dim=10, hidden_units=1000, n_layers=6, neg_slope=0.2):
        super().__init__()
        layers, width = [], latent_dim
        for _ in range(n_layers - 1):
            layers += [nn.Linear(width, hidden_units), nn.LeakyReLU(neg_slope)]
            width = hidden_units
        layers.append(nn.Linear(width, 2))
        self.net = init_weights(nn.Sequential(*layers))

    def forward(self, z):
        return self.net(z)  # (B, 2) logits
