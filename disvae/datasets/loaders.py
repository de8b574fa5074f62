"""Batches for training and evaluation, without DataLoader workers: each epoch is a
permutation from a seeded torch Generator (beyond MAX_PERMUTED images, a sample drawn on
demand: SampledOrder) and each batch is rendered or gathered whole by the dataset. The generators' states go into checkpoints, so a resumed run
sees exactly the batches the uninterrupted run would have seen.

Views: a loss that consumes several observations per example gets (B, V, C, H, W):
- "triplet": (anchor, positive, negative) ordered by ground-truth factor distance;
- "triplet_unsupervised": the two candidates ordered by their raw-image distance to
  the anchor under the reconstruction loss (works on any dataset).
With `world_size` > 1 every process takes its own shard of each epoch's permutation.
"""
import numpy as np
import torch

from disvae.pixels import pixel_losses
from disvae.runtime import to_device

VIEW_SAMPLINGS = (None, "triplet", "triplet_unsupervised")
MAX_PERMUTED = 2 ** 26  # larger datasets (XYSquares at spacing 1: 57^6 images) are sampled, not permuted


class SampledOrder:
    """One process's order of an epoch of a dataset too large to permute: its slices are
    drawn on demand, uniformly with replacement from a seed drawn at the epoch's start, each
    from its own start position (so a mid-epoch resume draws the same batches again); in
    order (every `world_size`-th index from `rank`) without `shuffle`."""

    def __init__(self, n_data, length, seed, shuffle=True, rank=0, world_size=1):
        self.n_data, self.length, self.seed, self.shuffle = n_data, length, seed, shuffle
        self.rank, self.world_size = rank, world_size

    def __len__(self):
        return self.length

    def __getitem__(self, item):
        start, stop, step = item.indices(self.length)
        if step != 1:
            raise IndexError("a sampled order is read in contiguous slices")
        if not self.shuffle:
            return torch.arange(start, stop) * self.world_size + self.rank
        # torch's CPU generator keeps 32 bits of a seed: the three numbers are mixed into them
        seed = int(np.random.SeedSequence([self.seed, self.rank, start]).generate_state(1)[0])
        generator = torch.Generator().manual_seed(seed)
        return torch.randint(self.n_data, (max(0, stop - start),), generator=generator)


def image_distance(a, b, rec_dist="bernoulli", pixel_std=None):
    """Mean per-pixel reconstruction loss of images b under images a (pixel
    probabilities): (B, C, H, W) -> (B,)."""
    return pixel_losses(a, b, rec_dist, logits=False, pixel_std=pixel_std).flatten(1).mean(1)


class BatchLoader:
    def __init__(self, dataset, batch_size, shuffle=True, drop_last=False, seed=0, view_sampling=None,
                 triplet_mode="manhattan_scaled", swap_chance=0.0, rec_dist="bernoulli", pixel_std=None,
                 rank=0, world_size=1, max_examples=None, min_batch=1):
        if view_sampling == "triplet" and not dataset.has_factors:
            raise ValueError("supervised triplets need a ground-truth dataset; use the unsupervised variant")
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.view_sampling, self.triplet_mode, self.swap_chance = view_sampling, triplet_mode, swap_chance
        self.rec_dist = rec_dist
        # the mse distance's per-channel std, where the images are made (no copy per batch)
        self.pixel_std = None if pixel_std is None else pixel_std.to(getattr(dataset, "device", "cpu"))
        self.rank, self.world_size = rank, world_size
        self.n_examples = min(len(dataset), max_examples or len(dataset)) // world_size
        self.min_batch = min_batch  # a last batch smaller than this joins the one before it
        self.order_generator = torch.Generator().manual_seed(seed)
        self.view_generator = torch.Generator().manual_seed(seed + 1 + rank)

    def __len__(self):
        full, rest = divmod(self.n_examples, self.batch_size)
        return full + (rest > 0 and not self.drop_last and not self._merges_last())

    def _merges_last(self):
        rest = self.n_examples % self.batch_size
        return 0 < rest < self.min_batch and self.n_examples >= self.batch_size and not self.drop_last

    def epoch_order(self):
        """This process's indices for the next epoch (advances the order generator)."""
        n_total = self.n_examples * self.world_size
        if len(self.dataset) > MAX_PERMUTED:
            seed = int(torch.randint(2 ** 62, (1,), generator=self.order_generator)) if self.shuffle else 0
            return SampledOrder(len(self.dataset), self.n_examples, seed, self.shuffle, self.rank, self.world_size)
        if self.shuffle:
            order = torch.randperm(len(self.dataset), generator=self.order_generator)[:n_total]
        else:
            order = torch.arange(n_total)
        return order[self.rank::self.world_size][:self.n_examples]

    def batches(self, order, start_batch=0):
        n_batches, merged = len(self), self._merges_last()
        for i in range(start_batch, n_batches):
            end = None if merged and i == n_batches - 1 else (i + 1) * self.batch_size
            yield self.fetch(order[i * self.batch_size:end])

    def __iter__(self):
        return self.batches(self.epoch_order())

    def fetch(self, indices):
        ds = self.dataset
        if self.view_sampling is None:
            return ds.get_batch(indices)
        n = len(indices)
        if self.view_sampling == "triplet":
            triplets = ds.sample_triplet_indices(indices, self.view_generator, self.triplet_mode, self.swap_chance)
            return ds.get_batch(triplets.flatten()).unflatten(0, (n, 3))
        if self.view_sampling == "triplet_unsupervised":
            others = torch.randint(0, len(ds), (n, 2), generator=self.view_generator)
            images = ds.get_batch(torch.cat([indices.view(-1, 1), others], 1).flatten()).unflatten(0, (n, 3))
            anchor, first, second = images.unbind(1)
            swap = image_distance(first, anchor, self.rec_dist, self.pixel_std) > \
                image_distance(second, anchor, self.rec_dist, self.pixel_std)
            if self.swap_chance > 0:  # the generator draws on the CPU: its coin flips move to the images
                swap ^= to_device(torch.rand(n, generator=self.view_generator) < self.swap_chance, swap.device)
            swap = swap.view(-1, 1, 1, 1)
            return torch.stack([anchor, torch.where(swap, second, first), torch.where(swap, first, second)], 1)
        raise ValueError(f"unknown view sampling {self.view_sampling!r}; choose from {VIEW_SAMPLINGS}")

    def state_dict(self):
        return {"order": self.order_generator.get_state(), "views": self.view_generator.get_state()}

    def load_state_dict(self, state):
        self.order_generator.set_state(state["order"])
        self.view_generator.set_state(state["views"])
