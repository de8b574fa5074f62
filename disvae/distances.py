"""Distances along factor traversals (Michlo et al., "Disentanglement using VAEs
resembles distance learning and requires overlapping data").

A traversal of factor k: a random base point, factor k swept over all its classes with
the others fixed. Along each traversal three (T, T) matrices, averaged over traversals:
- ground truth: |v_i - v_j|, the L1 distance between the factor values (only k differs);
- perceived: the pixel-wise MSE between the images, mean over pixels (what a VAE with
  a pixel-wise reconstruction loss sees);
- latent: the L2 distance between the posterior means of a trained model.
On XYSquares at the default spacing 8 the squares never overlap, so every perceived
distance off the diagonal is the same: the data gives no order to learn.
"""
import numpy as np
import torch


def traversal_indices(dataset, k, n_bases, rng):
    """(n_bases, size_k) flat indices: random bases (rng), factor k over all its classes."""
    sizes = np.array(dataset.lat_sizes)
    base = (rng.random((n_bases, len(sizes))) * sizes).astype(np.int64)
    classes = np.repeat(base[:, None], sizes[k], 1)  # (n_bases, size_k, F)
    classes[:, :, k] = np.arange(sizes[k])
    return dataset.classes_to_index(torch.from_numpy(classes)).numpy()


def ground_truth_distances(dataset, k):
    values = np.asarray(dataset.factor_values[k], dtype=np.float64)
    return np.abs(values[:, None] - values[None, :])


def pairwise_mse(images):
    """(T, ...) images -> (T, T) mean squared difference over pixels (exact, float64)."""
    flat = images.reshape(len(images), -1).double()
    squared = (flat * flat).sum(1)
    distances = squared[:, None] + squared[None, :] - 2 * flat @ flat.T
    return (distances.clamp(min=0) / flat.shape[1]).fill_diagonal_(0).numpy()


def pairwise_l2(codes):
    codes = np.asarray(codes, dtype=np.float64)
    return np.linalg.norm(codes[:, None] - codes[None, :], axis=-1)


def perceived_distances(dataset, indices):
    """Mean over traversals (rows of `indices`) of the pixel-wise MSE matrices."""
    total = 0
    for row in indices:
        total = total + pairwise_mse(dataset.get_batch(torch.from_numpy(row)).cpu())
    return total / len(indices)


def latent_distances(encode, indices):
    """Mean over traversals of the L2 matrices of `encode(indices) -> posterior means`."""
    codes = encode(indices.reshape(-1)).reshape(*indices.shape, -1)
    return np.mean([pairwise_l2(c) for c in codes], 0)


def rank_correlation(a, b):
    """Spearman correlation between the upper triangles of two distance matrices (NaN
    when either is constant there). Each is scaled to a maximum of 1 and rounded to 9
    decimals first, so distances equal up to float rounding tie."""
    from scipy.stats import spearmanr
    i, j = np.triu_indices(len(a), 1)
    x, y = a[i, j], b[i, j]
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(np.round(x / np.abs(x).max(), 9), np.round(y / np.abs(y).max(), 9)).statistic)


def factor_distance_matrices(dataset, rng, n_bases=16, encode=None):
    """Per factor with more than one class: {name: {"ground_truth", "perceived"[, "latent"]}}."""
    matrices = {}
    for k in dataset.varying_factors:
        indices = traversal_indices(dataset, k, n_bases, rng)
        entry = {"ground_truth": ground_truth_distances(dataset, k), "perceived": perceived_distances(dataset, indices)}
        if encode is not None:
            entry["latent"] = latent_distances(encode, indices)
        matrices[dataset.lat_names[k]] = entry
    return matrices
