"""Encoders. The Burgess et al. (2018) convolutional encoder.

Burgess, C. P. et al. "Understanding disentangling in beta-VAE", 2018.
4 conv layers (32 channels, 4x4 kernels, stride 2), 2 fully connected layers of
256 units, and one linear layer producing the mean and log-variance of a diagonal
Gaussian posterior q(z|x). The fourth conv layer exists only for 64x64 images.
"""
from torch import nn
from torch.nn import functional as F

HIDDEN_CHANNELS = 32
KERNEL_SIZE = 4
HIDDEN_DIM = 256


def check_img_size(img_size):
    """Raise ValueError unless `img_size` is (1 or 3, 32 or 64, same)."""
    n_chan, height, width = img_size
    if n_chan not in (1, 3) or height != width or height not in (32, 64):
        raise ValueError(f"Burgess model supports images of shape (1|3, 32|64, 32|64), got {tuple(img_size)}")


class EncoderBurgess(nn.Module):
    def __init__(self, img_size, latent_dim=10):
        super().__init__()
        check_img_size(img_size)
        n_chan = img_size[0]
        self.latent_dim = latent_dim
        convs = [nn.Conv2d(n_chan, HIDDEN_CHANNELS, KERNEL_SIZE, stride=2, padding=1)]
        n_convs = 4 if img_size[1] == 64 else 3
        convs += [nn.Conv2d(HIDDEN_CHANNELS, HIDDEN_CHANNELS, KERNEL_SIZE, stride=2, padding=1)
                  for _ in range(n_convs - 1)]
        self.convs = nn.ModuleList(convs)
        self.lin1 = nn.Linear(HIDDEN_CHANNELS * KERNEL_SIZE * KERNEL_SIZE, HIDDEN_DIM)
        self.lin2 = nn.Linear(HIDDEN_DIM, HIDDEN_DIM)
        self.mu_logvar = nn.Linear(HIDDEN_DIM, 2 * latent_dim)

    def forward(self, x):
        # x: (B, C, H, W) -> after the convs (B, 32, 4, 4)
        for conv in self.convs:
            x = F.relu(conv(x))
        x = x.flatten(1)  # (B, 512)
        x = F.relu(self.lin1(x))
        x = F.relu(self.lin2(x))
        mean, logvar = self.mu_logvar(x).chunk(2, dim=-1)  # (B, Z) each
        return mean, logvar
