"""The per-pixel reconstruction losses, -log p(x | x_hat) of the `--rec-dist` choices,
scaled like the reference toolkit so its hyperparameters carry over:
- bernoulli: cross-entropy of the decoder logits;
- gaussian:  squared error in [0, 255] space divided by 255;
- laplace:   absolute error in [0, 1] space times 3 (empirically comparable to bernoulli).
The losses sum them over pixels (disvae/losses/terms.py); the unsupervised triplet
orders its candidates by their mean (disvae/datasets/loaders.py).
"""
import torch
from torch.nn import functional as F

REC_DISTS = ("bernoulli", "laplace", "gaussian")


def pixel_losses(x_hat, x, rec_dist="bernoulli", logits=True):
    """-log p(x | x_hat) per pixel, same shape as x: `x_hat` decoder logits, or pixel
    probabilities (an image) with logits=False."""
    if rec_dist == "bernoulli":
        if logits:
            return F.binary_cross_entropy_with_logits(x_hat, x, reduction="none")
        return F.binary_cross_entropy(x_hat.clamp(1e-4, 1 - 1e-4), x, reduction="none")
    probabilities = torch.sigmoid(x_hat) if logits else x_hat
    if rec_dist == "gaussian":
        return (probabilities - x).pow(2) * 255
    if rec_dist == "laplace":
        return (probabilities - x).abs() * 3
    raise ValueError(f"unknown rec_dist {rec_dist!r}; choose from {REC_DISTS}")
