"""Dataset interfaces.

A dataset class declares what the registry and the command line need to know of it:
`name` (`-d NAME`), `options` ({constructor argument: Option}, its own parameters such
as xysquares' spacing; a dataset takes no other keyword), `data_folder` (the folder
under data/ that holds its files, default its name), `splits` (the splits it has;
`test_losses.log` uses "test" where there is one), `procedural` (rendered on the
training device, no files needed) and `version` (of its images, recorded in specs.json).

Every dataset is indexable (`ds[i]` -> (image (C, H, W) in [0, 1], factor values or 0))
and renders or gathers whole batches with `get_batch(indices)` -> (B, C, H, W), which
is what the trainer uses (no per-example Python loop, no DataLoader workers).

Ground-truth datasets add the factor interface: `lat_names`, `lat_sizes`,
`factor_values` (values of each factor's classes), `lat_values` (per-image factor
values, (N, F)), `index_to_classes`, `classes_to_index`, and vectorised sampling of
pairs and triplets (spec section B). Flat index order: first factor slowest.
"""
import functools
import os

import numpy as np
import torch

from disvae.runtime import to_device

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data")

TRIPLET_MODES = ("manhattan_scaled", "manhattan", "factors", "combined", "random")


@functools.lru_cache(maxsize=None)
def device_constant(values, device, dtype=None):
    """torch.tensor(values) on `device` (values: a tuple), copied there once and reused:
    code that runs every batch indexes it without a copy from the host."""
    return to_device(torch.tensor(values, dtype=dtype), device)


class ImageDataset(torch.utils.data.Dataset):
    name = None
    options = {}
    data_folder = None
    splits = ("train",)
    procedural = False
    version = 1  # of the images: raised when the same parameters render other images
    img_size = None  # (C, H, W)
    has_factors = False
    offline_options = {}  # option values under which it renders without any file (benchmarks, tests)

    @classmethod
    def default_root(cls):
        return os.path.join(DATA_DIR, cls.data_folder or cls.name)

    def option_values(self):
        """{constructor argument: value} of its own options (an instance keeps each as the
        attribute of the argument's name; one it does not keep counts as its default)."""
        return {argument: getattr(self, argument, option.default) for argument, option in self.options.items()}

    def changed_options(self):
        """{argument: value} of its options away from their defaults."""
        return {argument: value for argument, value in self.option_values().items()
                if value != self.options[argument].default}

    def options_suffix(self):
        """"_<argument><value>" per option away from its default ("" at the defaults): the
        folder suffix of figures of this dataset alone (results/dataset_xysquares_spacing4/)."""
        return "".join(f"_{argument}{value}" for argument, value in self.changed_options().items())

    def description(self):
        """Its name, and the options away from their defaults: "xysquares (spacing 4)"."""
        changed = ", ".join(f"{argument} {value}" for argument, value in self.changed_options().items())
        return f"{self.name} ({changed})" if changed else self.name

    def __len__(self):
        raise NotImplementedError

    def get_batch(self, indices):
        raise NotImplementedError

    def channel_std(self, n_images=10000, seed=0):
        """(C,) standard deviation of each channel's pixels over `n_images` drawn with `seed`
        (every image when there are fewer): the mse reconstruction's standardisation."""
        if getattr(self, "_channel_std", None) is None:
            generator = torch.Generator().manual_seed(seed)
            n = min(n_images, len(self))
            indices = torch.randperm(len(self), generator=generator)[:n] if n < len(self) else torch.arange(n)
            sums = torch.zeros(2, self.img_size[0], dtype=torch.float64)
            for chunk in indices.split(1000):
                x = self.get_batch(chunk).double().cpu().transpose(0, 1).flatten(1)  # (C, pixels)
                sums += torch.stack([x.sum(1), x.pow(2).sum(1)])
            count = n * self.img_size[1] * self.img_size[2]
            mean = sums[0] / count
            self._channel_std = (sums[1] / count - mean ** 2).clamp_min(1e-12).sqrt().float()
        return self._channel_std

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        return self.get_batch(torch.tensor([index % len(self)]))[0], 0


class TensorImageDataset(ImageDataset):
    """Images held in memory (or memory-mapped) as uint8 (N, C, H, W)."""

    def __init__(self, images):
        self.images = images
        self.img_size = tuple(images.shape[1:])

    def __len__(self):
        return len(self.images)

    def get_batch(self, indices):
        indices = torch.as_tensor(indices)
        if isinstance(self.images, np.ndarray):
            batch = torch.from_numpy(np.ascontiguousarray(self.images[indices.numpy()]))
        else:
            batch = self.images[indices]
        return batch.float().div_(255)


class GroundTruthDataset(ImageDataset):
    """Full-factorial dataset whose images are a function of their factor classes."""

    has_factors = True
    procedural = True
    lat_names = ()
    lat_sizes = ()

    def __init__(self, device="cpu"):
        self.device = torch.device(device)
        self._strides = torch.tensor(np.cumprod((1,) + tuple(self.lat_sizes[::-1]))[:-1][::-1].copy())
        self._lat_values = None

    @property
    def factor_values(self):
        """Per factor, the values of its classes (list of 1-D arrays)."""
        return [np.arange(size, dtype=np.float64) for size in self.lat_sizes]

    @property
    def varying_factors(self):
        """Indices of the factors with more than one class (the ones metrics can score)."""
        return [k for k, size in enumerate(self.lat_sizes) if size > 1]

    @property
    def lat_values(self):
        """(N, F) factor values of every image, built on first use."""
        if self._lat_values is None:
            classes = self.index_to_classes(torch.arange(len(self))).numpy()
            self._lat_values = np.stack([vals[classes[:, k]] for k, vals in enumerate(self.factor_values)], 1)
        return self._lat_values

    def __len__(self):
        return int(np.prod(self.lat_sizes))

    def to(self, device):
        self.device = torch.device(device)
        return self

    def index_to_classes(self, indices):
        """(B,) flat indices -> (B, F) factor classes."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        return (indices.unsqueeze(-1) // self._strides) % torch.tensor(self.lat_sizes)

    def classes_to_index(self, classes):
        """(B, F) factor classes -> (B,) flat indices."""
        return (torch.as_tensor(classes, dtype=torch.long) * self._strides).sum(-1)

    def classes_to_values(self, classes):
        classes = np.asarray(classes)
        return np.stack([vals[classes[..., k]] for k, vals in enumerate(self.factor_values)], -1)

    def render(self, classes):
        """(B, F) classes on self.device -> (B, C, H, W) float images in [0, 1]."""
        raise NotImplementedError

    def get_batch(self, indices):
        return self.render(to_device(self.index_to_classes(indices), self.device))

    def __getitem__(self, index):
        image, _ = super().__getitem__(index)
        return image, torch.from_numpy(self.lat_values[index % len(self)])

    def sample_classes(self, n, generator=None):
        """(n, F) uniformly random factor classes."""
        return (torch.rand(n, len(self.lat_sizes), generator=generator)
                * torch.tensor(self.lat_sizes)).long()

    def sample_pair_indices(self, indices, generator=None, k=None):
        """For each first observation, a second one differing in k resampled factors
        (Ada-GVAE style; k uniform in 1..F-1 when None). Factors with one value are
        never chosen. Returns (B, 2) indices."""
        first = self.index_to_classes(indices)
        n, n_factors = first.shape
        sizes = torch.tensor(self.lat_sizes)
        varying = sizes > 1
        n_varying = int(varying.sum())
        if k is None:
            k = torch.randint(1, max(n_varying, 2), (n,), generator=generator)
        else:
            k = torch.full((n,), int(k))
        scores = torch.rand(n, n_factors, generator=generator).masked_fill(~varying, 2.0)
        ranks = scores.argsort(1).argsort(1)
        change = ranks < k.unsqueeze(1)
        # a resampled factor takes a different value: offset in 1..size-1
        offset = 1 + (torch.rand(n, n_factors, generator=generator) * (sizes - 1).clamp(min=1)).long()
        second = torch.where(change, (first + offset) % sizes, first)
        return torch.stack([self.classes_to_index(first), self.classes_to_index(second)], 1)

    def factor_distance(self, classes_a, classes_b, mode="manhattan_scaled"):
        diff = (classes_a - classes_b).abs().float()
        if mode == "manhattan":
            return diff.sum(-1)
        if mode == "manhattan_scaled":
            return (diff / (torch.tensor(self.lat_sizes) - 1).clamp(min=1)).sum(-1)
        if mode == "factors":
            return (diff > 0).float().sum(-1)
        if mode == "combined":  # count of differing factors first, scaled distance breaks ties
            scaled = self.factor_distance(classes_a, classes_b, "manhattan_scaled")
            return (diff > 0).float().sum(-1) * (len(self.lat_sizes) + 1) + scaled
        raise ValueError(f"unknown triplet mode {mode!r}; choose from {TRIPLET_MODES}")

    def sample_triplet_indices(self, anchor_indices, generator=None, mode="manhattan_scaled", swap_chance=0.0):
        """(B,) anchors -> (B, 3) indices (anchor, positive, negative) with the positive
        no farther from the anchor than the negative in ground-truth factor distance."""
        anchor_indices = torch.as_tensor(anchor_indices, dtype=torch.long)
        n = len(anchor_indices)
        others = torch.randint(0, len(self), (n, 2), generator=generator)
        if mode != "random":
            classes = self.index_to_classes(torch.cat([anchor_indices.unsqueeze(1), others], 1))
            dist_p = self.factor_distance(classes[:, 0], classes[:, 1], mode)
            dist_n = self.factor_distance(classes[:, 0], classes[:, 2], mode)
            others = torch.where((dist_p > dist_n).unsqueeze(1), others.flip(1), others)
        if swap_chance > 0:
            swap = torch.rand(n, generator=generator) < swap_chance
            others = torch.where(swap.unsqueeze(1), others.flip(1), others)
        return torch.cat([anchor_indices.unsqueeze(1), others], 1)
