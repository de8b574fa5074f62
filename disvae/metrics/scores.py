"""Vote- and classifier-based scores built on fixing one factor.

FactorVAE score (Kim & Mnih 2018): global std per latent from 10,000 points; latents
with std < 0.05 are pruned. A vote fixes one random factor at a random value, draws
64 points, and takes argmin_j Var(z_j / std_j). 10,000 training votes build a
majority map latent -> factor; the score is the map's accuracy on 5,000 new votes.

BetaVAE score (Higgins et al. 2017): a point fixes one factor, draws 64 pairs that share
it, and its feature is mean over pairs of |z1 - z2|; a logistic regression trained on
10,000 points predicts the fixed factor of 5,000 evaluation points.
"""
import numpy as np
import torch

from disvae.metrics.family import MetricFamily


def _fixed_factor_indices(dataset, rng, n_groups, group_size, n_sets=1):
    """Random factor k per group and (n_groups, n_sets, group_size) indices sharing one value of k."""
    sizes = np.array(dataset.lat_sizes)
    factor = rng.choice(dataset.varying_factors, n_groups)
    classes = (rng.random((n_groups, n_sets, group_size, len(sizes))) * sizes).astype(np.int64)
    fixed_value = (rng.random(n_groups) * sizes[factor]).astype(np.int64)
    classes[np.arange(n_groups), :, :, factor] = fixed_value[:, None, None]
    indices = dataset.classes_to_index(torch.from_numpy(classes)).numpy()
    return factor, indices


def factor_vae_score(representation, dataset, rng, n_train=10000, n_test=5000, batch_size=64, n_std=10000):
    std_indices = rng.choice(len(dataset), min(n_std, len(dataset)), replace=False)
    std = representation(std_indices)[0].std(0)
    active = std >= 0.05
    if not active.any():
        return {"factor_vae_score": 0.0, "factor_vae_active_latents": 0}

    def votes(n):
        factor, indices = _fixed_factor_indices(dataset, rng, n, batch_size)
        codes = representation(indices.reshape(-1))[0].reshape(n, batch_size, -1)
        variances = (codes[..., active] / std[active]).var(1)  # (n, active latents)
        return factor, np.flatnonzero(active)[variances.argmin(1)]

    n_latents, n_factors = len(std), len(dataset.lat_sizes)
    train_factor, train_latent = votes(n_train)
    table = np.zeros((n_latents, n_factors), dtype=np.int64)
    np.add.at(table, (train_latent, train_factor), 1)
    latent_to_factor = table.argmax(1)
    test_factor, test_latent = votes(n_test)
    return {"factor_vae_score": float((latent_to_factor[test_latent] == test_factor).mean()),
            "factor_vae_active_latents": int(active.sum())}


def beta_vae_score(representation, dataset, rng, n_train=10000, n_test=5000, batch_size=64):
    from sklearn.linear_model import LogisticRegression

    def features(n):
        factor, indices = _fixed_factor_indices(dataset, rng, n, batch_size, n_sets=2)
        codes = representation(indices.reshape(-1))[0].reshape(n, 2, batch_size, -1)
        return np.abs(codes[:, 0] - codes[:, 1]).mean(1), factor

    x_train, y_train = features(n_train)
    x_test, y_test = features(n_test)
    if len(np.unique(y_train)) < 2:
        return {"beta_vae_score": 1.0}
    clf = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    return {"beta_vae_score": float(clf.score(x_test, y_test))}


FACTOR_VAE = MetricFamily("factorvae", factor_vae_score, quick=lambda n: {"n_train": n, "n_test": n // 2, "n_std": n},
                          order=3, labels={"factor_vae_score": "FactorVAE score"}, headline=("factor_vae_score",))
BETA_VAE = MetricFamily("betavae", beta_vae_score, quick=lambda n: {"n_train": n, "n_test": n // 2}, order=4,
                        labels={"beta_vae_score": "BetaVAE score"}, headline=("beta_vae_score",))
