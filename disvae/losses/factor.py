"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising").

    L = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) + anneal * gamma * TC(z)
    TC(z) ~ E_q(z)[log D(z)_0 - log D(z)_1]      (density-ratio trick, tc_loss)

The batch is split in two: the first half (ceil(B/2) examples) trains the VAE;
the second half's latent samples, permuted independently per dimension, are the
discriminator's samples of prod_j q(z_j). The discriminator is trained after the
VAE step on *detached* latents (cross-entropy, `discrim_loss`), so its loss never
sends gradient into the encoder. It and its Adam optimiser (lr --lr-disc,
betas (0.5, 0.9)) live in this module and so in every checkpoint.
"""
import torch
from torch.nn import functional as F

from disvae.distributed import average_gradients
from disvae.gaussian import kl_normal_per_dim
from disvae.losses.base import BaseLoss
from disvae.models.discriminator import Discriminator
from disvae.optim import adam
from disvae.options import Option, non_negative, positive


def permute_dims(z, generator=None):
    """Shuffle each latent dimension independently across the batch: a sample of prod_j q(z_j)."""
    batch_size, latent_dim = z.shape
    perms = torch.argsort(torch.rand(batch_size, latent_dim, generator=generator, device=z.device), dim=0)
    return torch.gather(z, 0, perms)


class FactorKLoss(BaseLoss):
    name = "factor"
    label = "FactorVAE"
    title = "factor VAE specific parameters"
    options = {
        "gamma": Option("factor_G", 6.0, "Weight of the TC term (gamma in the paper).", non_negative(float)),
        "lr_disc": Option("lr_disc", 5e-5, "Learning rate of the discriminator.", positive(float)),
    }
    context = ("latent_dim",)
    min_batch = 2  # the batch is split in two halves

    def __init__(self, latent_dim, gamma, lr_disc, **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma
        self.discriminator = Discriminator(latent_dim)
        self.optimizer_d = adam(self.discriminator.parameters(), lr=lr_disc, betas=(0.5, 0.9))
        self._pending = None

    def compute(self, model, x):
        if x.shape[0] < 2:
            raise ValueError("FactorVAE needs a batch of at least 2 examples")
        n_vae = (x.shape[0] + 1) // 2
        x_vae = x[:n_vae]
        logits, (mean, logvar), z = model(x, n_decode=n_vae)
        rec = self.reconstruction(logits, x_vae)
        kl_per_dim = kl_normal_per_dim(mean[:n_vae], logvar[:n_vae])
        z_vae, z_other = z[:n_vae], z[n_vae:]
        d_z = self.discriminator(z_vae)
        tc_loss = (d_z[:, 0] - d_z[:, 1]).mean()
        loss = rec + kl_per_dim.sum() + self.anneal_weight() * self.gamma * tc_loss
        logs = self.base_logs(loss, rec, kl_per_dim)
        logs["tc_loss"] = tc_loss.detach()
        if self.training:
            # float32: the discriminator step runs outside any autocast region
            self._pending = (z_vae.detach().float(), permute_dims(z_other.detach().float()))
        return loss, logs

    def discriminator_loss(self, z_joint, z_permuted):
        """Cross-entropy: class 0 for samples of q(z), class 1 for prod_j q(z_j)."""
        d_joint = self.discriminator(z_joint)
        d_perm = self.discriminator(z_permuted)
        zeros = torch.zeros(len(d_joint), dtype=torch.long, device=d_joint.device)
        ones = torch.ones(len(d_perm), dtype=torch.long, device=d_perm.device)
        return 0.5 * (F.cross_entropy(d_joint, zeros) + F.cross_entropy(d_perm, ones))

    def after_step(self):
        if self._pending is None:
            return {}
        z_joint, z_permuted = self._pending
        self._pending = None
        discrim_loss = self.discriminator_loss(z_joint, z_permuted)
        self.optimizer_d.zero_grad(set_to_none=True)
        discrim_loss.backward()
        average_gradients(self.discriminator.parameters())
        self.optimizer_d.step()
        return {"discrim_loss": discrim_loss.detach()}

    def get_extra_state(self):
        state = super().get_extra_state()
        state["optimizer_d"] = self.optimizer_d.state_dict()
        return state

    def set_extra_state(self, state):
        super().set_extra_state(state)
        self.optimizer_d.load_state_dict(state["optimizer_d"])
