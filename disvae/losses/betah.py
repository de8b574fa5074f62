"""beta-VAE_H (Higgins et al. 2017, "beta-VAE: Learning Basic Visual Concepts
with a Constrained Variational Framework").

    L = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I))      (beta = --betaH-B)
"""
from disvae.losses.base import BaseLoss
from disvae.options import Option, non_negative


class BetaHLoss(BaseLoss):
    name = "betaH"
    label = "β-VAE<sub>H</sub>"
    title = "BetaH specific parameters"
    options = {"beta": Option("betaH_B", 4.0, "Weight of the KL (beta in the paper).", non_negative(float))}

    def __init__(self, beta, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta

    def compute(self, model, x):
        rec, kl_per_dim, _, _ = self.vae_terms(model, x)
        loss = rec + self.anneal_weight() * self.beta * kl_per_dim.sum()
        return loss, self.base_logs(loss, rec, kl_per_dim)
