"""Loss registry: every loss class (a BaseLoss with a `name`) defined in a module of this
folder, found when the package is imported. Adding a loss: one file here, with the
paper's objective in its docstring, its options, and `compute`; plus its test.
"""
from disvae.losses.base import BaseLoss
from disvae.pixels import REC_DISTS
from disvae.registry import defined_subclass, discover

LOSSES = discover(__name__, __path__, defined_subclass(BaseLoss), "losses")  # name -> loss class


def get_loss_f(name, params, n_data=None, latent_dim=None, pixel_std=None):
    """Build loss `name` from a run's parameters (a Namespace with every option)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    return LOSSES[name].from_parameters(params, n_data=n_data, latent_dim=latent_dim, pixel_std=pixel_std)


__all__ = ["LOSSES", "REC_DISTS", "BaseLoss", "get_loss_f"]
