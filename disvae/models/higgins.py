"""The fully connected architecture of Higgins et al. (2017), "beta-VAE: Learning basic
visual concepts with a constrained variational framework", used there for dSprites.

Encoder: the image flattened, two fully connected layers of 1200 units, and one linear
layer producing the mean and log-variance of q(z|x). Decoder: three fully connected
layers of 1200 units and a linear layer producing one logit per pixel. Works for any
image size; nothing is convolutional.

Two variants (`-m`): "Higgins" has ReLU hidden units everywhere, as every other network
here; "Chen" is the same layers with tanh hidden units in the decoder, as in the paper and
in Chen et al. (2018)'s beta-TCVAE code (`MLPEncoder`, `MLPDecoder`: ReLU encoder, tanh
decoder), whose dSprites protocol is the experiment `btcvae_dsprites_chen`.
"""
import math

from torch import nn

HIDDEN_DIM = 1200


def n_pixels(img_size):
    n_chan, height, width = img_size
    if min(n_chan, height, width) < 1:
        raise ValueError(f"Higgins model needs a positive image shape, got {tuple(img_size)}")
    return math.prod(img_size)


class EncoderHiggins(nn.Module):
    def __init__(self, img_size, latent_dim=10):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n_pixels(img_size), HIDDEN_DIM), nn.ReLU(),
                                 nn.Linear(HIDDEN_DIM, HIDDEN_DIM), nn.ReLU(),
                                 nn.Linear(HIDDEN_DIM, 2 * latent_dim))

    def forward(self, x):
        mean, logvar = self.net(x).chunk(2, dim=-1)  # (B, Z) each
        return mean, logvar


class DecoderHiggins(nn.Module):
    activation = nn.ReLU

    def __init__(self, img_size, latent_dim=10):
        super().__init__()
        self.img_size = tuple(img_size)
        self.net = nn.Sequential(nn.Linear(latent_dim, HIDDEN_DIM), self.activation(),
                                 nn.Linear(HIDDEN_DIM, HIDDEN_DIM), self.activation(),
                                 nn.Linear(HIDDEN_DIM, HIDDEN_DIM), self.activation(),
                                 nn.Linear(HIDDEN_DIM, n_pixels(img_size)))

    def forward(self, z):
        return self.net(z).view(-1, *self.img_size)  # (B, C, H, W) logits


class DecoderChen(DecoderHiggins):
    """Higgins's decoder with tanh hidden units (Chen et al. 2018's `MLPDecoder`)."""
    activation = nn.Tanh
