"""The per-pixel reconstruction losses, -log p(x | x_hat) of the `--rec-dist` choices,
scaled like the reference toolkit so its hyperparameters carry over:
- bernoulli: cross-entropy of the decoder logits;
- gaussian:  squared error in [0, 255] space divided by 255;
- laplace:   absolute error in [0, 1] space times 3 (empirically comparable to bernoulli);
- mse:       squared error of the pixels standardised per channel by the dataset's standard
             deviation, ((x_hat - x) / std_c)^2: the Ada-TVAE research's reconstruction (MSE
             on images standardised by the dataset's per-channel mean and std; the mean
             cancels). One difference: the research's decoder outputs the standardised image
             linearly, this one through the sigmoid (decoder outputs stay logits everywhere).
The losses sum them over pixels (disvae/losses/terms.py); the unsupervised triplet
orders its candidates by their mean (disvae/datasets/loaders.py).
"""
import torch
from torch.nn import functional as F

REC_DISTS = ("bernoulli", "laplace", "gaussian", "mse")


def pixel_losses(x_hat, x, rec_dist="bernoulli", logits=True, pixel_std=None):
    """-log p(x | x_hat) per pixel, same shape as x: `x_hat` decoder logits, or pixel
    probabilities (an image) with logits=False. `pixel_std`: (C,) the dataset's per-channel
    standard deviation, which "mse" needs."""
    if rec_dist == "bernoulli":
        if logits:
            return F.binary_cross_entropy_with_logits(x_hat, x, reduction="none")
        return F.binary_cross_entropy(x_hat.clamp(1e-4, 1 - 1e-4), x, reduction="none")
    probabilities = torch.sigmoid(x_hat) if logits else x_hat
    if rec_dist == "gaussian":
        return (probabilities - x).pow(2) * 255
    if rec_dist == "laplace":
        return (probabilities - x).abs() * 3
    if rec_dist == "mse":
        if pixel_std is None:
            raise ValueError("the mse reconstruction needs the dataset's per-channel pixel std")
        return ((probabilities - x) / pixel_std.view(-1, 1, 1)).pow(2)
    raise ValueError(f"unknown rec_dist {rec_dist!r}; choose from {REC_DISTS}")
