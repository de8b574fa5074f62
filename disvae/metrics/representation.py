"""What the metrics see of a model: posterior means and log-variances per dataset index.

`ModelRepresentation` encodes lazily and memoises, so every image is encoded at
most once however many metrics ask for it (the FactorVAE and BetaVAE scores draw
about a million indices on dSprites, mostly repeats). The memo is one row per image up
to MAX_DENSE images, and holds only the encoded images beyond (XYSquares at spacing 1
has 57^6). `FunctionRepresentation`
wraps a function of the factor classes: the tests' synthetic encoders.

On the CPU the encoder runs on a channels-last copy (oneDNN's faster convolution layout:
1.4x the images/s of the default layout for the Burgess encoder, same float32 results
to rounding, ~1e-8).
"""
import copy

import numpy as np
import torch
from tqdm import tqdm


MAX_DENSE = 2 ** 24


class SparseMemo:
    """Rows of the encoded indices only, sorted by index."""

    def __init__(self, width):
        self.keys = np.zeros(0, dtype=np.int64)
        self.mean = np.zeros((0, width), dtype=np.float32)
        self.logvar = np.zeros((0, width), dtype=np.float32)

    def positions(self, indices):
        """(positions in the memo, which indices are in it)."""
        positions = np.searchsorted(self.keys, indices)
        found = positions < len(self.keys)
        found[found] = self.keys[positions[found]] == indices[found]
        return positions, found

    def add(self, keys, mean, logvar):
        order = np.argsort(np.concatenate([self.keys, keys]), kind="stable")
        self.keys = np.concatenate([self.keys, keys])[order]
        self.mean = np.concatenate([self.mean, mean])[order]
        self.logvar = np.concatenate([self.logvar, logvar])[order]


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
        self.sparse = SparseMemo(self.latent_dim) if len(dataset) > MAX_DENSE else None
        if self.sparse is None:
            self.mean = np.zeros((len(dataset), self.latent_dim), dtype=np.float32)
            self.logvar = np.zeros((len(dataset), self.latent_dim), dtype=np.float32)
            self.done = np.zeros(len(dataset), dtype=bool)
        self.n_encoded = 0

    @torch.no_grad()
    def _encode(self, indices):
        """Encode the images `indices` ((N,) sorted, unique, not yet encoded) into the memo."""
        self.encoder.eval()
        means, logvars = [], []
        with tqdm(total=len(indices), desc="encoding", unit="img", dynamic_ncols=True, leave=False,
                  disable=not self.progress or len(indices) <= self.batch_size) as bar:
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                x = self.dataset.get_batch(torch.from_numpy(chunk)).to(self.device)
                mean, logvar = self.encoder(x.contiguous(memory_format=self.memory_format))
                means.append(mean.float().cpu().numpy())
                logvars.append(logvar.float().cpu().numpy())
                bar.update(len(chunk))
        mean, logvar = np.concatenate(means), np.concatenate(logvars)
        if self.sparse is not None:
            self.sparse.add(indices, mean, logvar)
        else:
            self.mean[indices], self.logvar[indices] = mean, logvar
            self.done[indices] = True
        self.n_encoded += len(indices)

    def __call__(self, indices):
        """(N,) dataset indices -> (means (N, Z), logvars (N, Z)) as float32 arrays."""
        indices = np.asarray(indices, dtype=np.int64)
        if self.sparse is None:
            missing = np.unique(indices[~self.done[indices]])
            if len(missing):
                self._encode(missing)
            return self.mean[indices], self.logvar[indices]
        positions, found = self.sparse.positions(indices)
        missing = np.unique(indices[~found])
        if len(missing):
            self._encode(missing)
            positions, _ = self.sparse.positions(indices)
        return self.sparse.mean[positions], self.sparse.logvar[positions]


class FunctionRepresentation:
    """codes = fn(factor classes (N, F) int array) -> means (N, Z); fixed log-variance."""

    def __init__(self, fn, dataset, logvar=-10.0):
        self.fn, self.dataset, self.logvar_value = fn, dataset, logvar
        self.latent_dim = fn(np.zeros((1, len(dataset.lat_sizes)), dtype=np.int64)).shape[1]

    def __call__(self, indices):
        classes = self.dataset.index_to_classes(torch.as_tensor(np.asarray(indices))).numpy()
        means = np.asarray(self.fn(classes), dtype=np.float32)
        return means, np.full_like(means, self.logvar_value)
