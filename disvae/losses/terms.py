"""Math shared by several losses (and by the metrics and plots that need the same
quantities), written once and tested once (tests/test_losses.py). Reconstruction
log-likelihoods are the per-pixel losses of disvae/pixels.py, summed over pixels and
averaged over the batch.
"""
import math

import torch

from disvae.gaussian import log_density_gaussian, matrix_log_density_gaussian
from disvae.pixels import pixel_losses


def reconstruction_loss(logits, x, rec_dist="bernoulli", reduce_batch=True, pixel_std=None):
    """-log p(x|z) summed over pixels; mean over the batch, or per example (B,)."""
    per_example = pixel_losses(logits, x, rec_dist, pixel_std=pixel_std).flatten(1).sum(1)  # (B,)
    return per_example.mean() if reduce_batch else per_example


def log_importance_weight_matrix(batch_size, n_data, device=None):
    """log of the minibatch stratified sampling weights (Chen et al. 2018, appendix).

    With M = B - 1, row i holds 1/N at [i, i], (N - M) / (N M) at [i, (i + 1) mod B]
    and 1/M everywhere else, so that every row sums to 1. Built on `device` (no copy
    from the host in a training step).
    """
    n, m = n_data, batch_size - 1
    idx = torch.arange(batch_size, device=device)
    diagonal = idx.view(-1, 1) == idx.view(1, -1)
    following = idx.view(1, -1) == ((idx + 1) % batch_size).view(-1, 1)
    rest = torch.full((batch_size, batch_size), 1 / m, device=device)
    return torch.where(diagonal, 1 / n, torch.where(following, (n - m) / (n * m), rest)).log()


def log_q_decomposition(z, mean, logvar, n_data, estimator="mss"):
    """Monte-Carlo pieces of the ELBO decomposition (Chen et al. 2018), each (B,):
    log p(z), log q(z), log prod_j q(z_j), log q(z|x).

    estimator "mss" (minibatch stratified sampling) or "mws" (minibatch weighted
    sampling, q(z_i) ~ 1/(B N) sum_j q(z_i|x_j)).
    """
    batch_size = z.shape[0]
    log_q_z_given_x = log_density_gaussian(z, mean, logvar).sum(1)
    log_pz = log_density_gaussian(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    mat = matrix_log_density_gaussian(z, mean, logvar)  # (B, B, Z)
    if estimator == "mss":
        log_w = log_importance_weight_matrix(batch_size, n_data, z.device).to(z.dtype)
        log_qz = torch.logsumexp(mat.sum(2) + log_w, dim=1)
        log_prod_qzi = torch.logsumexp(mat + log_w.unsqueeze(2), dim=1).sum(1)
    elif estimator == "mws":
        log_norm = math.log(batch_size * n_data)
        log_qz = torch.logsumexp(mat.sum(2), dim=1) - log_norm
        log_prod_qzi = (torch.logsumexp(mat, dim=1) - log_norm).sum(1)
    else:
        raise ValueError(f"unknown estimator {estimator!r}; choose 'mss' or 'mws'")
    return log_pz, log_qz, log_prod_qzi, log_q_z_given_x


def linear_annealing(init, fin, step, annealing_steps):
    """Linear schedule from `init` (step 0) to `fin` (step >= annealing_steps)."""
    if annealing_steps <= 0:
        return fin
    return init + (fin - init) * min(step / annealing_steps, 1.0)


def batch_covariance(x):
    """(Z, Z) covariance of the rows of x (B, Z) over the batch: E[x x^T] - E[x] E[x]^T (1/B)."""
    centred = x - x.mean(0, keepdim=True)
    return centred.T @ centred / x.shape[0]


def covariance_penalty(cov, lambda_od, lambda_d):
    """DIP-VAE's moment matching to the identity (Kumar et al. 2018, eq. 6):
    lambda_od * sum_{i != j} cov_ij^2 + lambda_d * sum_i (cov_ii - 1)^2."""
    diagonal = torch.diagonal(cov)
    off_diagonal = cov - torch.diag_embed(diagonal)
    return lambda_od * off_diagonal.pow(2).sum() + lambda_d * (diagonal - 1).pow(2).sum()
