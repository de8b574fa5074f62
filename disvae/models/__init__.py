from disvae.models.vae import MODELS, VAE, build_model

__all__ = ["MODELS", "VAE", "build_model"]
