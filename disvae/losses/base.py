"""What every loss shares: the reconstruction distribution, the annealing step
counter, and the interface the trainer uses.

A loss declares what it needs, next to its code:
- `name`: its registry name (`-l NAME`; may contain `_`), and `label` for tables;
- `options`: {constructor argument: Option}, its own parameters (CLI flags, defaults,
  types, help; hyperparam.ini and specs.json values are checked against them);
- `context`: what it needs to know of the run beyond its options ("n_data", "latent_dim");
- `min_batch`: the smallest batch it can estimate from;
- `view_sampling`: how the loader draws observations per example (None: one image;
  "triplet", "triplet_unsupervised": (B, 3, C, H, W)) and `view_options` for the loader;
- `fixed_defaults`: values of general options it uses unless they are typed (the plain
  VAE: no KL annealing).
Its `__init__` takes its options' arguments without defaults: a constructor argument not
given takes its Option's default (`__init_subclass__`), so each default is written once.
The trainer asks it for
- `forward(model, x)` -> (loss, logs): the loss runs the model itself, so each loss
  decides which forward passes it needs; `logs` maps names to detached tensors;
- `after_step()`: work after the model's optimiser step (FactorVAE's discriminator).
Being an `nn.Module`, a loss carries its own networks and state in `state_dict()`.
"""
import functools
import inspect

import torch
from torch import nn

from disvae.gaussian import kl_normal_per_dim
from disvae.losses.terms import linear_annealing, reconstruction_loss


class BaseLoss(nn.Module):
    name = None
    label = None  # its name in tables and figures (HTML, as GitHub renders it; default: `name`)
    title = None  # the title of its group of options in `-h` (default: "<name> specific parameters")
    options = {}
    context = ()
    min_batch = 1
    view_sampling = None
    view_options = {}
    fixed_defaults = {}  # values of general options this loss uses unless they are typed

    def __init_subclass__(cls, **kwargs):
        """The subclass's `__init__` gets its options' declared defaults for the arguments not given."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or not cls.options:
            return
        signature = inspect.signature(init)
        missing = sorted(set(cls.options) - set(signature.parameters))
        if missing:
            raise TypeError(f"{cls.__name__}.__init__ takes no argument for its option(s) {', '.join(missing)}")

        @functools.wraps(init)
        def init_with_defaults(self, *args, **given):
            bound = signature.bind_partial(self, *args, **given).arguments
            defaults = {argument: option.default for argument, option in cls.options.items() if argument not in bound}
            init(self, *args, **given, **defaults)
        cls.__init__ = init_with_defaults

    @classmethod
    def from_parameters(cls, params, n_data=None, latent_dim=None, pixel_std=None):
        """The loss of a run's parameters (a Namespace of every option); `pixel_std`: the
        dataset's per-channel pixel std (the mse reconstruction's)."""
        kwargs = {argument: getattr(params, option.name) for argument, option in cls.options.items()}
        kwargs.update({key: value for key, value in (("n_data", n_data), ("latent_dim", latent_dim))
                       if key in cls.context})
        loss = cls(rec_dist=params.rec_dist, steps_anneal=params.reg_anneal, **kwargs)
        if pixel_std is not None:
            loss.pixel_std = torch.as_tensor(pixel_std, dtype=torch.float32)
        return loss

    def __init__(self, rec_dist="bernoulli", steps_anneal=0):
        super().__init__()
        self.rec_dist = rec_dist
        self.steps_anneal = steps_anneal
        self.n_train_steps = 0
        # the mse reconstruction's per-channel std: recomputed from the dataset, not saved
        self.register_buffer("pixel_std", None, persistent=False)

    def reconstruction(self, logits, x, reduce_batch=True):
        """-log p(x|z) of the run's --rec-dist, summed over pixels (see reconstruction_loss)."""
        return reconstruction_loss(logits, x, self.rec_dist, reduce_batch, self.pixel_std)

    def forward(self, model, x):
        if self.training:
            self.n_train_steps += 1
        return self.compute(model, x)

    def compute(self, model, x):
        raise NotImplementedError

    def set_total_steps(self, total_steps):
        """The run's planned number of training steps (for losses with schedules over the run)."""

    @classmethod
    def schedule_note(cls, run_args, planned_steps):
        """A pretrained card's line on the schedules of a run of this loss (`run_args`: its
        specs' args); None for the losses whose regularisation `--reg-anneal` anneals."""
        return None

    def after_step(self):
        """Called after the model's optimiser step; returns extra logs."""
        return {}

    def anneal_weight(self):
        """0 -> 1 over `steps_anneal` training steps; 1 in evaluation."""
        if not self.training:
            return 1.0
        return linear_annealing(0.0, 1.0, self.n_train_steps, self.steps_anneal)

    def vae_terms(self, model, x):
        """Forward pass and the two ELBO terms every loss logs."""
        logits, (mean, logvar), z = model(x)
        rec = self.reconstruction(logits, x)
        kl_per_dim = kl_normal_per_dim(mean, logvar)
        return rec, kl_per_dim, (mean, logvar), z

    @staticmethod
    def base_logs(loss, rec, kl_per_dim):
        logs = {"loss": loss, "recon_loss": rec, "kl_loss": kl_per_dim.sum()}
        logs.update({f"kl_loss_{i}": kl for i, kl in enumerate(kl_per_dim)})
        return {k: v.detach() for k, v in logs.items()}

    def get_extra_state(self):
        return {"n_train_steps": self.n_train_steps}

    def set_extra_state(self, state):
        self.n_train_steps = int(state["n_train_steps"])
