"""Mutual Information Gap (Chen et al. 2018) and the Axis Alignment Metric (reference README).

For factor v_k and latent z_j, I(z_j; v_k) = H(z_j) - H(z_j | v_k). With I sorted per factor,
    MIG = mean_k (I_(1) - I_(2)) / H(v_k)
    AAM = mean_k max(0, I_(1) - sum_{i>=2} I_(i)) / I_(1)     (0 when I_(1) = 0)

Two estimators of I here, on the same random sample of M points (Chen et al.'s own
estimator, mixing over the whole dataset, is the family `mig_chen`, mig_chen.py):
- "histogram" (disentanglement_lib; the headline `mig`): posterior means in 20
  equal-width bins, discrete MI. On the shipped and the reference beta-VAE_B it moves by
  less than 0.02 when M doubles (README);
- "sampled": z ~ q(z|x) per point, q(z_j) the mixture of the M posteriors, q(z_j | v_k = c)
  the mixture of the points with v_k = c (weights p(c)). Cheap, but biased upwards on
  sharp posteriors: when posteriors are narrower than the spacing of the M means, each
  sample is identified by its own component and I(z_j; v_k) drifts towards H(v_k) for
  every latent (a latent of scale alone, sigma 1e-3: I(z; posX) = 0.97 nats from 2,000
  points, 0.28 from 10,000, truly 0).
H(v_k) is the factor's entropy over the points the estimator uses.
"""
import numpy as np

from disvae.metrics.family import MetricFamily
from disvae.metrics.info import (discrete_entropy, discrete_mutual_info, histogram_discretize,
                                 sampled_marginal_entropies, top_two)


ESTIMATORS = ("histogram", "sampled")  # the first is the headline `mig`


def mutual_info_sampled(mean, logvar, factors, rng, n_samples=None, device="cpu"):
    """(Z, F) matrix of I(z_j; v_k) in nats by Chen et al.'s estimator: one z ~ q(z|x) per
    point; q(z_j) the mixture of all the N points' posteriors, q(z_j | v_k = c) that of the
    points with v_k = c; each entropy estimated on at most `n_samples` of their samples
    (None: all). Over a subsample this is the "sampled" estimator; over the whole dataset
    with n_samples = S, Chen et al.'s own (mig_chen.py)."""
    samples = mean + np.exp(0.5 * logvar) * rng.standard_normal(mean.shape)

    def entropy(rows):
        chosen = rows if n_samples is None or len(rows) <= n_samples else rng.choice(rows, n_samples, replace=False)
        return sampled_marginal_entropies(samples[chosen], mean[rows], logvar[rows], device)

    h_z = entropy(np.arange(len(mean)))
    mi = np.zeros((mean.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        h_z_given_v = sum(np.mean(factors[:, k] == value) * entropy(np.flatnonzero(factors[:, k] == value))
                          for value in np.unique(factors[:, k]))
        mi[:, k] = h_z - h_z_given_v
    return np.maximum(mi, 0)


def mutual_info_histogram(mean, factors, n_bins=20):
    """(Z, F) matrix of I(z_j; v_k) in nats from binned posterior means."""
    binned = histogram_discretize(mean, n_bins)
    return np.array([[discrete_mutual_info(binned[:, j], factors[:, k]) for k in range(factors.shape[1])]
                     for j in range(mean.shape[1])])


def gaps(mi, factor_entropy):
    """Per factor: MIG_k and AAM_k from a (Z, F) mutual information matrix."""
    first, second = top_two(mi)
    mig = (first - second) / factor_entropy
    rest = mi.sum(0) - first
    aam = np.where(first > 0, np.maximum(0, first - rest) / np.where(first > 0, first, 1), 0.0)
    return mig, aam


def factor_sample(dataset, indices):
    """(classes (N, F') of the varying factors at `indices`, their names, their entropies H(v_k))."""
    keep = dataset.varying_factors
    factors = dataset.index_to_classes(indices).numpy()[:, keep]
    entropy = np.array([discrete_entropy(factors[:, k]) for k in range(len(keep))])
    return factors, [dataset.lat_names[k] for k in keep], entropy


def mig_aam(representation, dataset, rng, n_points=10000, estimators=ESTIMATORS):
    """MIG and AAM by each estimator on the same random `n_points` (the headline `mig`:
    the first estimator's)."""
    n_points = min(n_points, len(dataset))
    indices = rng.choice(len(dataset), n_points, replace=False)
    mean, logvar = representation(indices)
    factors, names, factor_entropy = factor_sample(dataset, indices)
    results = {}
    for estimator in estimators:
        if estimator == "sampled":
            mi = mutual_info_sampled(mean.astype(np.float64), logvar.astype(np.float64), factors, rng)
        else:
            mi = mutual_info_histogram(mean, factors)
        results.update(summarize(estimator, mi, factor_entropy, names))
    results["mig"], results["aam"] = results[f"mig_{estimators[0]}"], results[f"aam_{estimators[0]}"]
    results["mig_aam_estimator"] = estimators[0]
    return results


def summarize(estimator, mi, factor_entropy, names):
    """{mig_<estimator>, aam_<estimator>, their values without shape (Chen et al.'s dSprites
    protocol), the MIG per factor} from a (Z, F) mutual information matrix."""
    mig, aam = gaps(mi, factor_entropy)
    results = {f"mig_{estimator}": float(mig.mean()), f"aam_{estimator}": float(aam.mean())}
    if "shape" in names:
        others = [i for i, name in enumerate(names) if name != "shape"]
        results[f"mig_{estimator}_no_shape"] = float(mig[others].mean())
        results[f"aam_{estimator}_no_shape"] = float(aam[others].mean())
    results[f"mig_{estimator}_per_factor"] = dict(zip(names, map(float, mig)))
    return results


FAMILY = MetricFamily(
    "mig", mig_aam, quick=lambda n: {"n_points": n}, order=0, version=2,
    labels={"mig": "MIG", "mig_histogram": "MIG (histogram)", "mig_histogram_no_shape": "MIG (histogram, no shape)",
            "mig_sampled": "MIG (sampled)", "mig_sampled_no_shape": "MIG (sampled, no shape)",
            "aam_histogram": "AAM (histogram)"},
    # by estimator name, so that tables of metrics.log files written before version 2
    # (whose `mig` was the sampled estimator's) show each number under its own estimator
    headline=("mig_histogram", "mig_histogram_no_shape", "mig_sampled", "aam_histogram"))
