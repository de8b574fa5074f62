"""The diagonal Gaussian's math, written once: its KL to the N(0, I) prior and to another
Gaussian, and its log-density (direct, and as a quadratic for many points at once).
Used by the losses (disvae/losses/terms.py), the metrics and the plots' latent order."""
import math

import torch

LOG_2PI = math.log(2 * math.pi)


def kl_normal_per_dim(mean, logvar):
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent dimension, averaged over the batch: (Z,)."""
    return 0.5 * (-1 - logvar + mean.pow(2) + logvar.exp()).mean(0)


def kl_gaussians_per_dim(mean_q, logvar_q, mean_p, logvar_p):
    """KL(q || p) for diagonal Gaussians, elementwise (no reduction)."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mean_q - mean_p).pow(2)) / logvar_p.exp() - 1)


def log_density_gaussian(x, mean, logvar):
    """log N(x; mean, exp(logvar)) elementwise."""
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar))


def log_density_gaussian_quadratic(mean, logvar):
    """log_density_gaussian as a quadratic in x, log N(x; m, v) = a x^2 + b x + c: (a, b, c),
    each shaped like `mean`. Per component it turns a mixture's log-densities at many
    points into one matrix product (disvae/metrics/info.py: half the time of the direct form)."""
    inv_var = torch.exp(-logvar)
    return -0.5 * inv_var, mean * inv_var, -0.5 * (mean.pow(2) * inv_var + LOG_2PI + logvar)


def matrix_log_density_gaussian(z, mean, logvar):
    """(B, B, Z) matrix whose [i, j, d] entry is log q(z_i,d | x_j)."""
    return log_density_gaussian(z.unsqueeze(1), mean.unsqueeze(0), logvar.unsqueeze(0))
