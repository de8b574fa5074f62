"""The VAE: encoder -> reparameterised sample -> decoder (Kingma & Welling, 2014)."""
import torch
from torch import nn

from disvae.models.decoders import DecoderBurgess
from disvae.models.encoders import EncoderBurgess
from disvae.models.higgins import DecoderChen, DecoderHiggins, EncoderHiggins
from disvae.models.init import init_weights


class VAE(nn.Module):
    """q(z|x) = N(mean, diag(exp(logvar))); p(x|z) parameterised by decoder logits.

    In training mode z is sampled with the reparameterisation trick; in eval mode
    z is the posterior mean, so evaluation is deterministic.
    """

    def __init__(self, encoder, decoder, img_size, latent_dim):
        super().__init__()
        self.img_size = tuple(img_size)
        self.latent_dim = latent_dim
        self.encoder = encoder
        self.decoder = decoder
        self.memory_format = torch.contiguous_format

    @property
    def is_convolutional(self):
        return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in self.modules())

    def use_channels_last(self):
        """Keep convolution weights, inputs and activations channels-last (NHWC): oneDNN's
        faster layout on the CPU (measured: 1.1-1.2x the training images/s of the Burgess
        model). Same results to float rounding; a no-op for models without convolutions."""
        if self.is_convolutional:
            self.memory_format = torch.channels_last
            self.to(memory_format=torch.channels_last)
        return self

    def reparameterize(self, mean, logvar):
        if not self.training:
            return mean
        return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)

    def forward(self, x, n_decode=None):
        """Returns (logits, (mean, logvar), z).

        `n_decode` decodes only the first n examples (FactorVAE needs latents of
        the whole batch but reconstructions of its first half only).
        """
        if self.memory_format is torch.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)  # (B, C, H, W), NHWC in memory
        mean, logvar = self.encoder(x)
        z = self.reparameterize(mean, logvar)
        logits = self.decoder(z if n_decode is None else z[:n_decode])
        return logits, (mean, logvar), z


MODELS = {"Burgess": (EncoderBurgess, DecoderBurgess), "Higgins": (EncoderHiggins, DecoderHiggins),
          "Chen": (EncoderHiggins, DecoderChen)}
# Chen et al.'s code keeps PyTorch's default initialisation; the others take the reference's (init.py)
PYTORCH_INIT = ("Chen",)


def build_model(model_type, img_size, latent_dim):
    encoder_cls, decoder_cls = MODELS[model_type]
    model = VAE(encoder_cls(img_size, latent_dim), decoder_cls(img_size, latent_dim), img_size, latent_dim)
    return model if model_type in PYTORCH_INIT else init_weights(model)
