"""Ada-TVAE (Michlo, James & Klein 2022, "Data Overlap: A Prerequisite For
Disentanglement"): a beta-VAE trained on triplets (anchor, positive, negative)
with a triplet loss on the posterior means, where the negative's difference is
scaled down on the latent dimensions an Ada-GVAE threshold marks as shared.

Per observation o in {a, p, n} (terms averaged over the three):
    recon = mean over pixels of -log p(x_o|z_o),   kl = mean over latents of KL(q(z_o|x_o) || N(0, I))
    L_vae = recon + beta * kl
This is the research's mean-normalised form; it equals the toolkit's summed terms
(sum over pixels, sum over latents) divided by P pixels, with beta_summed = beta * P / Z.
`recon_loss` and `kl_loss` are logged summed, like every other loss.

Triplet term on the posterior means z_a, z_p, z_n (p-norm over latents):
    T(d_pos, d_neg) = mean_batch max(0, ||d_pos||_p - ||d_neg||_p + margin)     ("triplet")
                    = mean_batch log(1 + exp(||d_pos||_p - ||d_neg||_p))        ("triplet_soft")
Shared mask S(u, v) per example: delta_j = |mu_u,j - mu_v,j| ("dist"), KL(q_v||q_u)_j ("kl")
or the mean of both KL directions ("symmetric_kl"); threshold
t = min_j delta_j + r * (max_j delta_j - min_j delta_j); j is shared when delta_j < t.
    d_neg'_j = s * (z_a,j - z_n,j) if j in S(a, n) else (z_a,j - z_n,j)
    L = L_vae + triplet_scale * T(z_a - z_p, d_neg')
With s = 1 this is the plain triplet VAE. s and r follow a linear schedule over the
run's steps (see SCHEDULES); the schedule position is part of the loss's state.
"""
import torch
from torch.nn import functional as F

from disvae.datasets.base import TRIPLET_MODES
from disvae.gaussian import kl_gaussians_per_dim, kl_normal_per_dim
from disvae.losses.base import BaseLoss
from disvae.options import Option, non_negative, positive, unit_interval

THRESH_MODES = ("dist", "kl", "symmetric_kl")
TRIPLET_LOSSES = ("triplet", "triplet_soft")
# name -> ((share scale start, end), (threshold ratio start, end)); None means "the fixed value".
SCHEDULES = {
    "none": ((None, None), (None, None)),
    "up_ratio": ((1.0, None), (None, None)),
    "up_all": ((1.0, None), (0.0, None)),
    "full": ((1.0, 0.0), (None, None)),
    "weak": ((1.0, 0.75), (None, None)),
}


def schedule_ends(start_end, fixed):
    """(start, end) of one of SCHEDULES' courses, None read as the option's fixed value."""
    start, end = start_end
    return (fixed if start is None else start), (fixed if end is None else end)


def triplet_loss(d_pos, d_neg, margin=1.0, p=1, soft=False):
    """Mean over the batch of the (soft-)margin triplet loss on difference vectors (B, Z)."""
    gap = torch.linalg.vector_norm(d_pos, ord=p, dim=-1) - torch.linalg.vector_norm(d_neg, ord=p, dim=-1)
    if soft:
        return F.softplus(gap).mean()
    return F.relu(gap + margin).mean()


def shared_mask(posterior_u, posterior_v, ratio=0.5, mode="dist"):
    """Boolean (B, Z): latents the Ada-GVAE threshold marks as shared between u and v."""
    (mean_u, logvar_u), (mean_v, logvar_v) = posterior_u, posterior_v
    if mode == "dist":
        delta = (mean_u - mean_v).abs()
    elif mode == "kl":
        delta = kl_gaussians_per_dim(mean_v, logvar_v, mean_u, logvar_u)
    elif mode == "symmetric_kl":
        delta = 0.5 * (kl_gaussians_per_dim(mean_v, logvar_v, mean_u, logvar_u)
                       + kl_gaussians_per_dim(mean_u, logvar_u, mean_v, logvar_v))
    else:
        raise ValueError(f"unknown threshold mode {mode!r}; choose from {THRESH_MODES}")
    low = delta.min(dim=-1, keepdim=True).values
    high = delta.max(dim=-1, keepdim=True).values
    return delta < low + ratio * (high - low)


class AdaTVAELoss(BaseLoss):
    name = "adatvae"
    label = "Ada-TVAE"
    title = "Ada-TVAE specific parameters"
    view_sampling = "triplet"  # supervised: needs ground-truth factors (unsupervised: any dataset)
    options = {
        "beta": Option("adatvae_beta", 0.01, "KL weight, mean-normalised (summed-terms beta = beta * pixels / "
                       "latents).", non_negative(float)),
        "triplet_margin": Option("adatvae_margin", 10.0, "Triplet margin.", non_negative(float)),
        "triplet_p": Option("adatvae_p", 1, "p of the triplet p-norm.", positive(int)),
        "triplet_scale": Option("adatvae_scale", 1.0, "Weight of the triplet term.", non_negative(float)),
        "triplet_loss": Option("adatvae_triplet_loss", "triplet", "Margin triplet or soft-margin triplet.",
                               choices=TRIPLET_LOSSES),
        "thresh_mode": Option("adatvae_thresh_mode", "dist", "Per-dimension difference used by the "
                              "shared-dimension threshold.", choices=THRESH_MODES),
        "thresh_ratio": Option("adatvae_thresh_ratio", 0.5, "Threshold ratio r in [0, 1] (0.5: Ada-GVAE).",
                               unit_interval),
        "share_scale": Option("adatvae_share_scale", 0.5, "Scale s of the negative's difference on shared "
                              "dimensions.", unit_interval),
        "schedule": Option("adatvae_schedule", "up_ratio", "Linear schedule of share scale / threshold ratio "
                           "over the run.", choices=tuple(SCHEDULES)),
        "unsupervised": Option("adatvae_unsupervised", False, "Order triplets by raw-image distance instead of "
                               "ground-truth factors.", kind="flag"),
        "triplet_mode": Option("triplet_mode", "manhattan_scaled", "Ground-truth distance ordering supervised "
                               "triplets.", choices=TRIPLET_MODES),
        "swap_chance": Option("triplet_swap_chance", 0.0, "Chance of swapping positive and negative.",
                              unit_interval),
    }

    def __init__(self, beta, triplet_margin, triplet_p, triplet_scale, triplet_loss, thresh_mode, thresh_ratio,
                 share_scale, schedule, unsupervised, triplet_mode, swap_chance, schedule_steps=0, **kwargs):
        super().__init__(**kwargs)
        self.view_options = {"triplet_mode": triplet_mode, "swap_chance": swap_chance}
        self.beta = beta
        self.triplet_margin, self.triplet_p, self.triplet_scale = triplet_margin, triplet_p, triplet_scale
        self.soft = triplet_loss == "triplet_soft"
        self.thresh_mode, self.thresh_ratio, self.share_scale = thresh_mode, thresh_ratio, share_scale
        self.schedule, self.schedule_steps = schedule, schedule_steps
        self.view_sampling = "triplet_unsupervised" if unsupervised else "triplet"

    def set_total_steps(self, total_steps):
        self.schedule_steps = total_steps

    @classmethod
    def schedule_note(cls, run_args, planned_steps):
        name = run_args["adatvae_schedule"]
        share, ratio = SCHEDULES[name]

        def course(start_end, fixed):
            start, end = schedule_ends(start_end, fixed)
            return f"{start:g} → {end:g}" if start != end else f"{fixed:g} (fixed)"

        return (f"- Schedules: `--adatvae-schedule {name}`, linear over the run's {planned_steps:,} planned steps: "
                f"share scale {course(share, run_args['adatvae_share_scale'])}, threshold ratio "
                f"{course(ratio, run_args['adatvae_thresh_ratio'])}. The KL has its full weight from the first step "
                "(Ada-TVAE does not use `--reg-anneal`).")

    def _scheduled(self, start_end, fixed):
        start, end = schedule_ends(start_end, fixed)
        if not self.training or self.schedule_steps <= 0:
            return end
        return start + (end - start) * min(self.n_train_steps / self.schedule_steps, 1.0)

    def current_share_scale(self):
        return self._scheduled(SCHEDULES[self.schedule][0], self.share_scale)

    def current_thresh_ratio(self):
        return self._scheduled(SCHEDULES[self.schedule][1], self.thresh_ratio)

    def compute(self, model, x):
        batch_size = x.shape[0]  # x: (B, 3, C, H, W) anchor, positive, negative
        flat = x.flatten(0, 1)  # (3B, C, H, W), ordered a0 p0 n0 a1 ...
        logits, (mean, logvar), _ = model(flat)
        rec_sum = self.reconstruction(logits, flat)
        kl_per_dim = kl_normal_per_dim(mean, logvar)
        n_pixels = flat[0].numel()
        loss_vae = rec_sum / n_pixels + self.beta * kl_per_dim.mean()

        mean3 = mean.view(batch_size, 3, -1)
        logvar3 = logvar.view(batch_size, 3, -1)
        post = [(mean3[:, i], logvar3[:, i]) for i in range(3)]  # anchor, positive, negative
        z_a, z_p, z_n = (m for m, _ in post)
        ratio, scale = self.current_thresh_ratio(), self.current_share_scale()
        with torch.no_grad():
            shared_an = shared_mask(post[0], post[2], ratio, self.thresh_mode)
        d_pos, d_neg = z_a - z_p, z_a - z_n
        d_neg_ada = torch.where(shared_an, scale * d_neg, d_neg)
        ada_triplet = triplet_loss(d_pos, d_neg_ada, self.triplet_margin, self.triplet_p, self.soft)
        loss = loss_vae + self.triplet_scale * ada_triplet

        logs = self.base_logs(loss, rec_sum, kl_per_dim)
        with torch.no_grad():
            logs["triplet_loss"] = triplet_loss(d_pos, d_neg, self.triplet_margin, self.triplet_p, self.soft)
            logs["ada_triplet_loss"] = ada_triplet.detach()
            logs["shared_dims_an"] = shared_an.sum(-1).float().mean()
            logs["shared_dims_ap"] = shared_mask(post[0], post[1], ratio, self.thresh_mode).sum(-1).float().mean()
            logs["shared_dims_pn"] = shared_mask(post[1], post[2], ratio, self.thresh_mode).sum(-1).float().mean()
            logs["share_scale"] = mean.new_full((), scale)
            logs["thresh_ratio"] = mean.new_full((), ratio)
        return loss, logs
