"""MIG by Chen et al.'s own estimator (Chen et al. 2018, "Isolating Sources of
Disentanglement in VAEs", their `mutual_info_metric_shapes`): the mixtures run over the
whole dataset, not a subsample.

One z ~ q(z|x) per image of the dataset (N images). H(z_j) = -E log q(z_j), the expectation
over S of those samples and q(z_j) = (1/N) sum_n N(z_j; mean_nj, var_nj) over *every* image;
H(z_j | v_k = c) likewise over S samples of the images with v_k = c against the mixture of
all of them; I(z_j; v_k) = H(z_j) - sum_c p(c) H(z_j | v_k = c), and MIG as in mig.py.
Because every image's own posterior is in the mixture, the estimate is that of the
empirical mixture itself: near 0 for a latent independent of a factor once the dataset's
means are denser than the posteriors are wide (a mixture over a 10,000-point subsample,
the "sampled" estimator of mig.py, is biased upwards long before). With posteriors
narrower than the spacing of even the whole dataset's means, each image is identified by
its own component, and so is every factor: no finite-sample estimator of this mixture
avoids that, which is why the headline MIG is the histogram one.

Cost: (1 + sum_k |v_k|) entropies of S x N_c x Z log-densities, about 6 x S x N x Z in all:
4.4e11 on dSprites with S = 10,000. The log-densities are a quadratic in z per image,
-a z^2 / 2 + b z + c, evaluated as one float64 matrix product per latent (exact to ~1e-9
nats even for variances of 1e-7), chunked, on the model's device. Not in the default
metrics (`--metrics mig_chen` asks for it): on 2 CPU cores it takes hours (see the README
for measured figures); on a GPU minutes.
"""
import math

import numpy as np
import torch

from disvae.metrics.family import MetricFamily
from disvae.metrics.mig import factor_sample, summarize


@torch.no_grad()
def mixture_entropies(samples, mean, logvar, device="cpu", budget=2 ** 25):
    """Per latent j, -E_s log (1/M) sum_m N(samples_sj; mean_mj, exp(logvar_mj)): (Z,) nats.
    samples (S, Z), mean and logvar (M, Z)."""
    samples, mean, logvar = (torch.as_tensor(a, dtype=torch.float64, device=device) for a in (samples, mean, logvar))
    inv_var = torch.exp(-logvar)
    # log N(z; m, v) = -z^2 / (2v) + z m / v - m^2 / (2v) - log(2 pi v) / 2: coefficients (3, M) per latent
    coefficients = torch.stack([-0.5 * inv_var, mean * inv_var,
                                -0.5 * mean.pow(2) * inv_var - 0.5 * (math.log(2 * math.pi) + logvar)], 1)  # (M, 3, Z)
    chunk = max(1, budget // len(mean))
    entropies = torch.zeros(samples.shape[1], dtype=torch.float64, device=device)
    for j in range(samples.shape[1]):
        for start in range(0, len(samples), chunk):
            z = samples[start:start + chunk, j]
            powers = torch.stack([z * z, z, torch.ones_like(z)], 1)  # (s, 3)
            log_q = powers @ coefficients[:, :, j].T  # (s, M)
            entropies[j] -= (torch.logsumexp(log_q, 1) - math.log(len(mean))).sum()
    return (entropies / len(samples)).cpu().numpy()


def mutual_info_chen(mean, logvar, factors, rng, n_samples=10000, device="cpu"):
    """(Z, F) matrix of I(z_j; v_k) in nats: mixtures over all the N points given,
    entropies estimated on n_samples of their samples (all of a subset when it is smaller)."""
    samples = mean + np.exp(0.5 * logvar) * rng.standard_normal(mean.shape)

    def entropy(rows):
        chosen = rows if len(rows) <= n_samples else rng.choice(rows, n_samples, replace=False)
        return mixture_entropies(samples[chosen], mean[rows], logvar[rows], device)

    h_z = entropy(np.arange(len(mean)))
    mi = np.zeros((mean.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        h_z_given_v = sum(np.mean(factors[:, k] == value) * entropy(np.flatnonzero(factors[:, k] == value))
                          for value in np.unique(factors[:, k]))
        mi[:, k] = h_z - h_z_given_v
    return np.maximum(mi, 0)


def mig_chen(representation, dataset, rng, n_points=None, n_samples=10000):
    """MIG and AAM by Chen et al.'s estimator over `n_points` images (None: the whole
    dataset, as Chen et al.) with `n_samples` samples per entropy."""
    n_points = len(dataset) if n_points is None else min(n_points, len(dataset))
    indices = np.arange(len(dataset)) if n_points == len(dataset) else rng.choice(len(dataset), n_points,
                                                                                 replace=False)
    mean, logvar = representation(indices)
    factors, names, factor_entropy = factor_sample(dataset, indices)
    mi = mutual_info_chen(mean.astype(np.float64), logvar.astype(np.float64), factors, rng, n_samples,
                          device=getattr(representation, "device", "cpu"))
    results = summarize("chen", mi, factor_entropy, names)
    results["mig_chen_points"], results["mig_chen_samples"] = n_points, n_samples
    return results


FAMILY = MetricFamily(
    "mig_chen", mig_chen, quick=lambda n: {"n_points": n, "n_samples": n}, order=1, default=False,
    labels={"mig_chen": "MIG (Chen)", "mig_chen_no_shape": "MIG (Chen, no shape)"},
    headline=("mig_chen", "mig_chen_no_shape"))
