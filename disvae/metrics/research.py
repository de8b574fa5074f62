"""The research metrics (Michlo et al. 2022), over factor traversals: a random base
point, one factor k varied over all its values with the others fixed, encoded to
posterior means Z_t (size_k, Z). Averaged over `n_bases` traversals per factor.

- ground-truth correlation: Spearman rank correlation between |i - j| (factor
  distance) and ||Z_i - Z_j||_2 over all pairs i < j of the traversal;
- linearity ratio: largest eigenvalue / sum of eigenvalues of the covariance of Z_t;
- axis-alignment ratio: largest per-latent variance / sum of variances of Z_t.
Both ratios are 1 for a traversal on a line / on one axis; axis <= linearity.
The main keys are raw ratios, averaged arithmetically over traversals and factors.

disent (the research's code) reports the ratios normalised so that isotropic codes
score 0: r' = (r - 1/Z) / (1 - 1/Z), averaged over a factor's traversals and then
combined over factors by a geometric mean; those are the `*_normalised` keys, so
numbers can be compared with either.
"""
import numpy as np

from disvae.distances import pairwise_l2, rank_correlation, traversal_indices
from disvae.metrics.family import MetricFamily


def traversal_ratios(codes):
    """(linearity ratio, axis-alignment ratio) of one traversal's codes (T, Z)."""
    centred = codes - codes.mean(0)
    covariance = centred.T @ centred / max(len(codes) - 1, 1)
    total = np.trace(covariance)
    if total <= 0:
        return np.nan, np.nan
    eigenvalues = np.linalg.eigvalsh(covariance)
    return float(eigenvalues[-1] / total), float(np.diag(covariance).max() / total)


def normalise_ratio(ratio, latent_dim):
    """disent's normalisation: 1/Z (isotropic) -> 0, 1 (one line / one axis) -> 1."""
    return (ratio - 1 / latent_dim) / (1 - 1 / latent_dim) if latent_dim > 1 else np.ones_like(ratio)


def geometric_mean(values):
    values = np.clip(np.asarray(values, dtype=np.float64), 0, None)
    return float(np.exp(np.mean(np.log(values)))) if np.all(values > 0) else 0.0


def traversal_correlation(codes):
    """Spearman correlation between factor-index distances |i - j| and latent L2 distances."""
    index = np.arange(len(codes), dtype=np.float64)
    return rank_correlation(np.abs(index[:, None] - index[None, :]), pairwise_l2(codes))


def research_metrics(representation, dataset, rng, n_bases=64):
    sizes = np.array(dataset.lat_sizes)
    per_factor, normalised = {}, []
    for k in dataset.varying_factors:
        indices = traversal_indices(dataset, k, n_bases, rng)  # (n_bases, size_k)
        codes = representation(indices.reshape(-1))[0].reshape(n_bases, sizes[k], -1).astype(np.float64)
        ratios = np.array([traversal_ratios(c) for c in codes])
        if np.isfinite(ratios).any():
            normalised.append(np.nanmean(normalise_ratio(ratios, codes.shape[-1]), 0))
        else:
            normalised.append(np.zeros(2))
        correlations = np.array([traversal_correlation(c) for c in codes])
        per_factor[dataset.lat_names[k]] = (np.nanmean(correlations) if np.isfinite(correlations).any() else 0.0,
                                            *(np.nanmean(ratios, 0) if np.isfinite(ratios).any() else (0.0, 0.0)))
    values = np.array(list(per_factor.values()))
    return {"gt_correlation": float(values[:, 0].mean()),
            "linearity_ratio": float(values[:, 1].mean()),
            "axis_alignment_ratio": float(values[:, 2].mean()),
            "linearity_ratio_normalised": geometric_mean([n[0] for n in normalised]),
            "axis_alignment_ratio_normalised": geometric_mean([n[1] for n in normalised]),
            "research_per_factor": {name: dict(zip(("gt_correlation", "linearity_ratio", "axis_alignment_ratio"),
                                                   map(float, v))) for name, v in per_factor.items()}}


FAMILY = MetricFamily(
    "research", research_metrics, quick=lambda n: {"n_bases": max(4, min(64, n // 100))}, order=5,
    version=2,  # 2: disent's normalised ratios
    labels={"gt_correlation": "ground-truth correlation", "linearity_ratio": "linearity ratio",
            "axis_alignment_ratio": "axis-alignment ratio",
            "linearity_ratio_normalised": "linearity ratio (disent, normalised)",
            "axis_alignment_ratio_normalised": "axis-alignment ratio (disent, normalised)"},
    headline=("gt_correlation", "linearity_ratio", "axis_alignment_ratio"))
