"""Decoders. The mirror image of the Burgess encoder; returns pixel logits.

Returning logits (not probabilities) lets the Bernoulli likelihood use the
numerically stable `binary_cross_entropy_with_logits`.
"""
from torch import nn
from torch.nn import functional as F

from disvae.models.encoders import HIDDEN_CHANNELS, HIDDEN_DIM, KERNEL_SIZE, check_img_size


class DecoderBurgess(nn.Module):
    def __init__(self, img_size, latent_dim=10):
        super().__init__()
        check_img_size(img_size)
        n_chan = img_size[0]
        self.lin1 = nn.Linear(latent_dim, HIDDEN_DIM)
        self.lin2 = nn.Linear(HIDDEN_DIM, HIDDEN_DIM)
        self.lin3 = nn.Linear(HIDDEN_DIM, HIDDEN_CHANNELS * KERNEL_SIZE * KERNEL_SIZE)
        n_convs = 4 if img_size[1] == 64 else 3
        convs = [nn.ConvTranspose2d(HIDDEN_CHANNELS, HIDDEN_CHANNELS, KERNEL_SIZE, stride=2, padding=1)
                 for _ in range(n_convs - 1)]
        convs.append(nn.ConvTranspose2d(HIDDEN_CHANNELS, n_chan, KERNEL_SIZE, stride=2, padding=1))
        self.convs = nn.ModuleList(convs)

    def forward(self, z):
        x = F.relu(self.lin1(z))
        x = F.relu(self.lin2(x))
        x = F.relu(self.lin3(x))
        x = x.view(-1, HIDDEN_CHANNELS, KERNEL_SIZE, KERNEL_SIZE)  # (B, 32, 4, 4)
        for conv in self.convs[:-1]:
            x = F.relu(conv(x))
        return self.convs[-1](x)  # (B, C, H, W) logits
