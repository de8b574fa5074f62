"""SAP score (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts").

For each (latent j, factor k) a linear classifier (LinearSVC, C = 0.01, balanced
classes) predicts factor k from latent j alone; S[j, k] is its test accuracy.
SAP = mean_k (largest S[., k] - second largest S[., k]). Latents with ~zero variance
get accuracy 0.
"""
import warnings

import numpy as np

from disvae.metrics.family import MetricFamily
from disvae.metrics.info import top_two


def sap_from_scores(scores):
    first, second = top_two(scores)
    return float((first - second).mean())


def sap(representation, dataset, rng, n_train=10000, n_test=5000):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    indices = rng.choice(len(dataset), n_train + n_test, replace=len(dataset) < n_train + n_test)
    codes, _ = representation(indices)
    factors = dataset.index_to_classes(indices).numpy()
    keep = dataset.varying_factors
    std = codes[:n_train].std(0)
    scores = np.zeros((codes.shape[1], len(keep)))
    for j in range(codes.shape[1]):
        if std[j] < 1e-6:
            continue
        x_train = ((codes[:n_train, j] - codes[:n_train, j].mean()) / std[j])[:, None]
        x_test = ((codes[n_train:, j] - codes[:n_train, j].mean()) / std[j])[:, None]
        for col, k in enumerate(keep):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = LinearSVC(C=0.01, class_weight="balanced").fit(x_train, factors[:n_train, k])
            scores[j, col] = clf.score(x_test, factors[n_train:, k])
    return {"sap": sap_from_scores(scores)}


FAMILY = MetricFamily("sap", sap, quick=lambda n: {"n_train": n, "n_test": n // 2}, order=2,
                      labels={"sap": "SAP"}, headline=("sap",))
