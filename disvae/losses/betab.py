"""beta-VAE_B (Burgess et al. 2018, "Understanding disentangling in beta-VAE").

    L = E_q[-log p(x|z)] + gamma * |KL(q(z|x) || N(0, I)) - C|

The capacity C grows linearly from C_init (--betaB-initC) to C_fin (--betaB-finC)
over --reg-anneal training steps; gamma is --betaB-G. In evaluation C = C_fin.
"""
from disvae.losses.base import BaseLoss
from disvae.losses.terms import linear_annealing
from disvae.options import Option, non_negative


class BetaBLoss(BaseLoss):
    name = "betaB"
    label = "β-VAE<sub>B</sub>"
    title = "BetaB specific parameters"
    options = {
        "C_init": Option("betaB_initC", 0.0, "Starting annealed capacity.", non_negative(float)),
        "C_fin": Option("betaB_finC", 25.0, "Final annealed capacity.", non_negative(float)),
        "gamma": Option("betaB_G", 1000.0, "Weight of the KL divergence term (gamma in the paper).",
                        non_negative(float)),
    }

    def __init__(self, C_init, C_fin, gamma, **kwargs):
        super().__init__(**kwargs)
        self.C_init, self.C_fin, self.gamma = C_init, C_fin, gamma

    def capacity(self):
        if not self.training:
            return self.C_fin
        return linear_annealing(self.C_init, self.C_fin, self.n_train_steps, self.steps_anneal)

    def compute(self, model, x):
        rec, kl_per_dim, _, _ = self.vae_terms(model, x)
        capacity = self.capacity()
        loss = rec + self.gamma * (kl_per_dim.sum() - capacity).abs()
        logs = self.base_logs(loss, rec, kl_per_dim)
        logs["capacity"] = kl_per_dim.new_full((), capacity)  # a kernel argument: no host copy
        return loss, logs
