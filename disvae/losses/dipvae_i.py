"""DIP-VAE-I (Kumar, Sattigeri & Balakrishnan 2018, "Variational Inference of
Disentangled Latent Concepts from Unlabeled Observations").

The ELBO plus a penalty that matches the covariance of the aggregate posterior's
means to the identity (the prior's covariance):

    Cov = Cov_p(x)[mu(x)]                                  (estimated on the minibatch, 1/B)
    L = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
        + anneal * (lambda_od * sum_{i != j} Cov_ij^2 + lambda_d * sum_i (Cov_ii - 1)^2)

lambda_od is --dipvaeI-lambda-od; lambda_d = --dipvaeI-lambda-d-factor * lambda_od
(disentanglement_lib's parameterisation; the paper and Locatello et al. 2019 use a
factor of 10 for DIP-VAE-I). `dip_loss` logs the weighted penalty.
"""
import torch

from disvae.losses.base import BaseLoss
from disvae.losses.terms import batch_covariance, covariance_penalty
from disvae.options import Option, non_negative


def dip_options(name, lambda_d_factor):
    """The two DIP-VAE weights, as the options --<name>-lambda-od and --<name>-lambda-d-factor."""
    return {
        "lambda_od": Option(f"{name}_lambda_od", 10.0, "Weight of the off-diagonal covariance penalty (lambda_od).",
                            non_negative(float)),
        "lambda_d_factor": Option(f"{name}_lambda_d_factor", lambda_d_factor, "Weight of the diagonal penalty, as "
                                  "a multiple of lambda_od.", non_negative(float)),
    }


class DipVAEILoss(BaseLoss):
    name = "dipvaeI"
    label = "DIP-VAE-I"
    title = "DIP-VAE-I specific parameters"
    options = dip_options("dipvaeI", 10.0)
    min_batch = 2  # a covariance over the batch

    def __init__(self, lambda_od, lambda_d_factor, **kwargs):
        super().__init__(**kwargs)
        self.lambda_od = lambda_od
        self.lambda_d = lambda_d_factor * lambda_od

    def covariance(self, mean, logvar):
        """The covariance matched to the identity: Cov[mu(x)] over the batch, (Z, Z)."""
        return batch_covariance(mean)

    def compute(self, model, x):
        rec, kl_per_dim, (mean, logvar), _ = self.vae_terms(model, x)
        cov = self.covariance(mean.float(), logvar.float())
        dip_loss = covariance_penalty(cov, self.lambda_od, self.lambda_d)
        loss = rec + kl_per_dim.sum() + self.anneal_weight() * dip_loss
        logs = self.base_logs(loss, rec, kl_per_dim)
        with torch.no_grad():
            logs["dip_loss"] = dip_loss.detach()
            logs["cov_off_diagonal"] = (cov - torch.diag_embed(torch.diagonal(cov))).pow(2).sum()
        return loss, logs
