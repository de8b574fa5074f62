"""disvae: disentangled VAEs on one architecture, many losses, trustworthy metrics."""

__version__ = "0.1.0"
