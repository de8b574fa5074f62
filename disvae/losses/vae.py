"""Standard VAE: the negative ELBO (Kingma & Welling, 2014).

    L = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))

No KL annealing unless `--reg-anneal` is set explicitly on the command line.
"""
from disvae.losses.base import BaseLoss


class VAELoss(BaseLoss):
    name = "VAE"
    label = "VAE"
    fixed_defaults = {"reg_anneal": 0}  # the plain ELBO: no KL annealing unless --reg-anneal is typed
    def compute(self, model, x):
        rec, kl_per_dim, _, _ = self.vae_terms(model, x)
        loss = rec + self.anneal_weight() * kl_per_dim.sum()
        return loss, self.base_logs(loss, rec, kl_per_dim)
