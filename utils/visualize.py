"""Plots and GIFs of a trained model (main_viz.py); the training GIF's frames are the
library's (disvae/frames.py).

Image grids are assembled with torchvision's make_grid; labels (latent index, and its
KL with --is-show-loss) are drawn in a left margin with PIL. Latents are ordered by
their mean KL to the prior on a batch of data, most informative first.
Traversal range `max_traversal` (m): m >= 0.5 traverses [-m, m] around the centre;
m < 0.5 traverses the central 1 - 2m mass of the distribution: the prior N(0, 1), or,
with the posterior, N(mean, std) of the example, centred on the posterior mean.
"""
import os

import numpy as np
import torch

from disvae.frames import add_row_labels, decode, image_grid, save_gif, save_png, traversal_values
from disvae.gaussian import kl_normal_per_dim
from disvae.runtime import seeded_generator

PLOT_FILES = {
    "generate-samples": "samples.png",
    "data-samples": "data_samples.png",
    "reconstruct": "reconstruct.png",
    "traversals": "traversals.png",
    "reconstruct-traverse": "reconstruct_traverse.png",
    "gif-traversals": "posterior_traversals.gif",
    "loss-curves": "loss_curves.png",
    "metrics": "metrics.png",
    "metric-curve": "metric_curve.png",
}


def factor_traversal_grid(dataset, n_cols, generator=None, upsample=1):
    """One row per factor with more than one class: the factor swept over `n_cols`
    evenly spaced classes (all of them when it has fewer; blank cells after), the other
    factors fixed at one random base point. Returns (H, W, 3) uint8 with factor labels."""
    base = dataset.sample_classes(1, generator)[0]
    rows, labels = [], []
    for k in dataset.varying_factors:
        size = dataset.lat_sizes[k]
        classes = base.repeat(n_cols, 1)
        values = np.unique(np.linspace(0, size - 1, min(n_cols, size)).round().astype(np.int64))
        classes[:len(values), k] = torch.from_numpy(values)
        images = dataset.get_batch(dataset.classes_to_index(classes)).cpu()
        images[len(values):] = 1.0  # blank cells
        rows.append(images)
        labels.append(dataset.lat_names[k])
    grid = image_grid(torch.cat(rows), n_cols, upsample=upsample)
    return add_row_labels(grid, labels, dataset.img_size[1] * upsample)



class Visualizer:
    def __init__(self, model, dataset, save_dir, n_rows=6, n_cols=7, max_traversal=2.0, upsample=1,
                 is_posterior=False, is_show_loss=False, idcs=(), seed=None):
        self.model, self.dataset, self.save_dir = model, dataset, save_dir
        self.n_rows, self.n_cols, self.max_traversal, self.upsample = n_rows, n_cols, max_traversal, upsample
        self.is_posterior, self.is_show_loss, self.idcs = is_posterior, is_show_loss, list(idcs)
        self.generator = seeded_generator(seed)
        self.device = next(model.parameters()).device
        self._kl = None

    def data(self, n):
        """n dataset images: the --idcs first, then random ones."""
        indices = self.idcs[:n] + torch.randint(0, len(self.dataset), (max(n - len(self.idcs), 0),),
                                                generator=self.generator).tolist()
        return self.dataset.get_batch(torch.tensor(indices[:n])).cpu()

    @torch.no_grad()
    def posterior(self, x):
        return self.model.encoder(x.to(self.device))

    def latent_kl(self):
        """Mean KL to the prior of each latent over 256 images: (Z,) numpy."""
        if self._kl is None:
            mean, logvar = self.posterior(self.data(256))
            self._kl = kl_normal_per_dim(mean, logvar).cpu().numpy()
        return self._kl

    def ordered_latents(self, n):
        return list(np.argsort(-self.latent_kl())[:n])

    def latent_labels(self, latents):
        kl = self.latent_kl()
        return [f"z{j}" + (f"\nKL={kl[j]:.2f}" if self.is_show_loss else "") for j in latents]

    def traversal_rows(self, latents, x=None):
        """(len(latents) * n_cols, C, H, W): for each latent a row of decoded traversals."""
        dim = self.model.latent_dim
        if self.is_posterior:
            x = self.data(1) if x is None else x
            mean, logvar = self.posterior(x[:1])
            centre, std = mean[0].cpu(), torch.exp(0.5 * logvar[0]).cpu()
        else:
            centre, std = torch.zeros(dim), torch.ones(dim)
        rows = []
        for j in latents:
            z = centre.repeat(self.n_cols, 1)
            z[:, j] = torch.tensor(traversal_values(self.max_traversal, self.n_cols, float(centre[j]), float(std[j])),
                                   dtype=torch.float32)
            rows.append(z)
        return decode(self.model, torch.cat(rows))

    def _labelled(self, images, labels, n_cols):
        grid = image_grid(images, n_cols, upsample=self.upsample)
        return add_row_labels(grid, labels, images.shape[-2] * self.upsample)

    def path(self, plot):
        return os.path.join(self.save_dir, PLOT_FILES[plot])

    def generate_samples(self):
        z = torch.randn(self.n_rows * self.n_cols, self.model.latent_dim, generator=self.generator)
        save_png(image_grid(decode(self.model, z), self.n_cols, upsample=self.upsample), self.path("generate-samples"))

    def data_samples(self):
        images = self.data(self.n_rows * self.n_cols)
        save_png(image_grid(images, self.n_cols, upsample=self.upsample), self.path("data-samples"))

    @torch.no_grad()
    def reconstructions(self, x):
        mean, _ = self.posterior(x)
        return decode(self.model, mean)

    def reconstruct(self):
        n_pairs = max(self.n_rows // 2, 1)
        x = self.data(n_pairs * self.n_cols)
        labels = ["original"] * n_pairs + ["recon."] * n_pairs
        images = torch.cat([x, self.reconstructions(x)])
        save_png(self._labelled(images, labels, self.n_cols), self.path("reconstruct"))

    def traversals(self):
        latents = self.ordered_latents(min(self.n_rows, self.model.latent_dim))
        save_png(self._labelled(self.traversal_rows(latents), self.latent_labels(latents), self.n_cols),
                 self.path("traversals"))

    def reconstruct_traverse(self):
        x = self.data(self.n_cols)
        latents = self.ordered_latents(min(self.n_rows, self.model.latent_dim))
        images = torch.cat([x, self.reconstructions(x), self.traversal_rows(latents, x)])
        labels = ["original", "recon."] + self.latent_labels(latents)
        save_png(self._labelled(images, labels, self.n_cols), self.path("reconstruct-traverse"))

    @torch.no_grad()
    def gif_traversals(self, n_steps=20):
        """Rows: latents (by KL); columns: examples; frame t (one per traversal step): every
        row's latent at its t-th posterior traversal value."""
        x = self.data(self.n_cols)
        mean, logvar = self.posterior(x)
        mean, std = mean.cpu(), torch.exp(0.5 * logvar).cpu()
        latents = self.ordered_latents(min(self.n_rows, self.model.latent_dim))
        values = np.stack([[traversal_values(self.max_traversal, n_steps, float(mean[c, j]), float(std[c, j]))
                            for c in range(self.n_cols)] for j in latents])  # (rows, cols, steps)
        frames = []
        for t in range(n_steps):
            z = mean.repeat(len(latents), 1, 1)  # (rows, cols, Z)
            for r, j in enumerate(latents):
                z[r, :, j] = torch.tensor(values[r, :, t], dtype=torch.float32)
            frames.append(self._labelled(decode(self.model, z.view(-1, self.model.latent_dim)),
                                         self.latent_labels(latents), self.n_cols))
        save_gif(frames, self.path("gif-traversals"), duration_ms=80)
        return len(frames)
