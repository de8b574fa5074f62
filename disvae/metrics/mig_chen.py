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
4.4e11 on dSprites with S = 10,000, in float64 matrix products chunked on the model's device
(metrics/info.py). The computation is mig.py's mutual_info_sampled over every image instead
of a subsample. Not in the default
metrics (`--metrics mig_chen` asks for it): on 2 CPU cores it takes hours (see the README
for measured figures); on a GPU minutes.
"""
import numpy as np

from disvae.metrics.family import MetricFamily
from disvae.metrics.mig import factor_sample, mutual_info_sampled, summarize


def mig_chen(representation, dataset, rng, n_points=None, n_samples=10000):
    """MIG and AAM by Chen et al.'s estimator over `n_points` images (None: the whole
    dataset, as Chen et al.) with `n_samples` samples per entropy."""
    n_points = len(dataset) if n_points is None else min(n_points, len(dataset))
    indices = np.arange(len(dataset)) if n_points == len(dataset) else rng.choice(len(dataset), n_points,
                                                                                 replace=False)
    mean, logvar = representation(indices)
    factors, names, factor_entropy = factor_sample(dataset, indices)
    mi = mutual_info_sampled(mean.astype(np.float64), logvar.astype(np.float64), factors, rng, n_samples,
                             device=getattr(representation, "device", "cpu"))
    results = summarize("chen", mi, factor_entropy, names)
    results["mig_chen_points"], results["mig_chen_samples"] = n_points, n_samples
    return results


FAMILY = MetricFamily(
    "mig_chen", mig_chen, quick=lambda n: {"n_points": n, "n_samples": n}, order=1, default=False,
    labels={"mig_chen": "MIG (Chen)", "mig_chen_no_shape": "MIG (Chen, no shape)"},
    headline=("mig_chen", "mig_chen_no_shape"))
