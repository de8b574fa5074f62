"""Entropies and mutual information shared by the information-based metrics."""
import math

import numpy as np
import torch


def discrete_entropy(labels):
    """H(v) in nats of integer labels (N,) from their empirical distribution."""
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def discrete_mutual_info(a, b):
    """I(a; b) in nats between two integer label arrays (N,), from their contingency table."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def histogram_discretize(codes, n_bins=20):
    """(N, Z) -> (N, Z) integer bins: n_bins equal-width bins over each column's observed range."""
    low, high = codes.min(0), codes.max(0)
    width = np.where(high > low, (high - low) / n_bins, 1.0)
    return np.clip(((codes - low) / width).astype(np.int64), 0, n_bins - 1)


@torch.no_grad()
def sampled_marginal_entropies(samples, mean, logvar, chunk=None, device="cpu"):
    """Per latent j, H(z_j) = -E log q(z_j) with q(z_j) = (1/M) sum_m N(z_j; mean_mj, var_mj),
    estimated on `samples` (S, Z) drawn from the same mixture, `chunk` samples at a time
    (default: about 2^24 log-densities per chunk) on `device`. Returns (Z,) in nats."""
    samples, mean, logvar = (torch.as_tensor(a, dtype=torch.float32).to(device) for a in (samples, mean, logvar))
    chunk = chunk or max(1, 2 ** 24 // (mean.shape[0] * mean.shape[1]))
    inv_var = torch.exp(-logvar)
    log_norm = -0.5 * (math.log(2 * math.pi) + logvar) - math.log(len(mean))  # (M, Z)
    total = torch.zeros(samples.shape[1], dtype=torch.float64, device=samples.device)  # float64 accumulation
    for start in range(0, len(samples), chunk):
        z = samples[start:start + chunk].unsqueeze(1)  # (s, 1, Z)
        log_q = log_norm - 0.5 * (z - mean).pow(2) * inv_var  # (s, M, Z)
        total -= torch.logsumexp(log_q, dim=1).double().sum(0)
    return (total / len(samples)).cpu().numpy()
