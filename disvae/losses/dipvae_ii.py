"""DIP-VAE-II (Kumar, Sattigeri & Balakrishnan 2018): as DIP-VAE-I, but the matched
covariance is that of the aggregate posterior q(z) itself, not only of its means:

    Cov = E_p(x)[diag(exp(logvar(x)))] + Cov_p(x)[mu(x)]   (minibatch estimates)
    L = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
        + anneal * (lambda_od * sum_{i != j} Cov_ij^2 + lambda_d * sum_i (Cov_ii - 1)^2)

lambda_od is --dipvaeII-lambda-od; lambda_d = --dipvaeII-lambda-d-factor * lambda_od
(a factor of 1 for DIP-VAE-II, as in the paper and Locatello et al. 2019).
"""
import torch

from disvae.losses.dipvae_i import DipVAEILoss, dip_options
from disvae.losses.terms import batch_covariance


class DipVAEIILoss(DipVAEILoss):
    name = "dipvaeII"
    label = "DIP-VAE-II"
    title = "DIP-VAE-II specific parameters"
    options = dip_options("dipvaeII", 1.0)

    def __init__(self, lambda_od, lambda_d_factor, **kwargs):
        super().__init__(lambda_od=lambda_od, lambda_d_factor=lambda_d_factor, **kwargs)

    def covariance(self, mean, logvar):
        return torch.diag_embed(logvar.exp().mean(0)) + batch_covariance(mean)
