"""What the metrics see of a model: posterior means and log-variances per dataset index.

`ModelRepresentation` encodes lazily and memoises, so every image is encoded at
most once however many metrics ask for it (the FactorVAE and BetaVAE scores draw
about a million indices on dSprites, mostly repeats). `FunctionRepresentation`
wraps a function of the factor classes: the tests' synthetic encoders.

On the CPU the encoder runs on a channels-last copy (oneDNN's faster convolution layout:
1.4x the images/s of the default layout for the Burgess encoder, same float32 results
to rounding, ~1e-8).
"""
import copy

import numpy as np
import torch
from tqdm import tqdm


class ModelRepresentation:
    def __init__(self, model, dataset, device="cpu", batch_size=1000, progress=False):
        self.model, self.dataset, self.device, self.batch_size = model, dataset, device, batch_size
        self.progress = progress
        self.latent_dim = model.latent_dim
        self.encoder = model.encoder
        self.memory_format = torch.contiguous_format
        if torch.device(device).type == "cpu":
            self.memory_format = torch.channels_last
            self.encoder = copy.deepcopy(model.encoder).to(memory_format=torch.channels_last)
        self.mean = np.zeros((len(dataset), self.latent_dim), dtype=np.float32)
        self.logvar = np.zeros((len(dataset), self.latent_dim), dtype=np.float32)
        self.done = np.zeros(len(dataset), dtype=bool)
        self.n_encoded = 0

    @torch.no_grad()
    def _encode(self, indices):
        self.encoder.eval()
        with tqdm(total=len(indices), desc="encoding", unit="img", dynamic_ncols=True, leave=False,
                  disable=not self.progress or len(indices) <= self.batch_size) as bar:
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                x = self.dataset.get_batch(torch.from_numpy(chunk)).to(self.device)
                mean, logvar = self.encoder(x.contiguous(memory_format=self.memory_format))
                self.mean[chunk] = mean.float().cpu().numpy()
                self.logvar[chunk] = logvar.float().cpu().numpy()
                bar.update(len(chunk))
        self.done[indices] = True
        self.n_encoded += len(indices)

    def __call__(self, indices):
        """(N,) dataset indices -> (means (N, Z), logvars (N, Z)) as float32 arrays."""
        indices = np.asarray(indices)
        missing = np.unique(indices[~self.done[indices]])
        if len(missing):
            self._encode(missing)
        return self.mean[indices], self.logvar[indices]


class FunctionRepresentation:
    """codes = fn(factor classes (N, F) int array) -> means (N, Z); fixed log-variance."""

    def __init__(self, fn, dataset, logvar=-10.0):
        self.fn, self.dataset, self.logvar_value = fn, dataset, logvar
        self.latent_dim = fn(np.zeros((1, len(dataset.lat_sizes)), dtype=np.int64)).shape[1]

    def __call__(self, indices):
        classes = self.dataset.index_to_classes(torch.as_tensor(np.asarray(indices))).numpy()
        means = np.asarray(self.fn(classes), dtype=np.float32)
        return means, np.full_like(means, self.logvar_value)
