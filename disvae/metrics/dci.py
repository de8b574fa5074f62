"""DCI (Eastwood & Williams 2018): disentanglement, completeness, informativeness.

One gradient-boosted tree classifier per factor (scikit-learn defaults) predicts the
factor class from the latent means; R[j, k] = |feature importance of latent j for factor k|.
    disentanglement = sum_j rho_j (1 - H_F(P_j.)),  P_jk = R_jk / sum_k R_jk,  rho_j = sum_k R_jk / sum R
    completeness    = sum_k rho_k (1 - H_Z(P_.k)),  P_jk = R_jk / sum_j R_jk,  rho_k = sum_j R_jk / sum R
    informativeness = mean test accuracy
(H_F: entropy with logarithm base F; H_Z: base Z.)
"""
import numpy as np

from disvae.metrics.family import MetricFamily
from disvae.runtime import available_cores


def _entropy_base(p, base, axis):
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis) / np.log(base)


def dci_from_importance(importance):
    """(disentanglement, completeness) of an importance matrix R (Z latents x F factors)."""
    importance = np.abs(importance)
    total = importance.sum()
    if total == 0:
        return 0.0, 0.0
    n_latents, n_factors = importance.shape
    row_sums = importance.sum(1)
    p_rows = importance / np.where(row_sums > 0, row_sums, 1)[:, None]
    disentanglement = 1 - _entropy_base(p_rows, n_factors, 1) if n_factors > 1 else np.ones(n_latents)
    dis = float((row_sums / total * disentanglement).sum())
    col_sums = importance.sum(0)
    p_cols = importance / np.where(col_sums > 0, col_sums, 1)[None]
    completeness = 1 - _entropy_base(p_cols, n_latents, 0) if n_latents > 1 else np.ones(n_factors)
    com = float((col_sums / total * completeness).sum())
    return dis, com


def dci(representation, dataset, rng, n_train=10000, n_test=5000, n_jobs=None):
    """DCI with one gradient-boosted classifier per factor, trained in parallel over
    `n_jobs` processes (default: the available cores); every classifier has its own
    seed drawn up front, so the result does not depend on n_jobs."""
    from joblib import Parallel, delayed
    from sklearn.ensemble import GradientBoostingClassifier


    indices = rng.choice(len(dataset), n_train + n_test, replace=len(dataset) < n_train + n_test)
    codes, _ = representation(indices)
    factors = dataset.index_to_classes(indices).numpy()
    keep = dataset.varying_factors
    seeds = rng.integers(0, 2**31, len(keep))

    def fit(k, seed):
        y = factors[:, k]
        model = GradientBoostingClassifier(random_state=int(seed)).fit(codes[:n_train], y[:n_train])
        return np.abs(model.feature_importances_), model.score(codes[n_train:], y[n_train:])

    n_jobs = min(n_jobs or available_cores(), len(keep))
    # largest first (a classifier's cost grows with its factor's classes), so the
    # workers finish together; results are put back in factor order
    order = sorted(range(len(keep)), key=lambda i: -dataset.lat_sizes[keep[i]])
    done = Parallel(n_jobs=n_jobs)(delayed(fit)(keep[i], seeds[i]) for i in order)
    fitted = [result for _, result in sorted(zip(order, done), key=lambda pair: pair[0])]
    importance = np.stack([imp for imp, _ in fitted], 1)  # (Z, F)
    dis, com = dci_from_importance(importance)
    return {"dci_disentanglement": dis, "dci_completeness": com,
            "dci_informativeness": float(np.mean([acc for _, acc in fitted]))}


FAMILY = MetricFamily(
    "dci", dci, quick=lambda n: {"n_train": n, "n_test": n // 2}, order=1,
    labels={"dci_disentanglement": "DCI disentanglement", "dci_completeness": "DCI completeness",
            "dci_informativeness": "DCI informativeness"},
    headline=("dci_disentanglement",))
