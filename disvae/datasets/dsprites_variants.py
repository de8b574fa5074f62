"""dSprites variants with a nuisance the factors do not describe (3 channels; the same
five factors, index order and rendering as dSprites, so metrics, pairs and triplets
work unchanged). Every image is a deterministic function of its index.

- dsprites_color (disentanglement_lib's color-dSprites): the sprite takes the colour
  c(i) in [0.5, 1]^3, uniform per index i (a fixed table drawn once from seed 0).
- dsprites_masked (the research's dSpritesImagenet; disentanglement_lib's
  noisy-dSprites with `--mask-root noise`): a texture T(i) fills the sprite (`fg`) or
  the background (`bg`), blended with strength s in [0, 1]:
      fg: x = m * ((1 - s) + s T)        bg: x = m + (1 - m) * s T
  where m is the dSprites mask; s = 0 is dSprites (on three channels). T(i) is one of
  the images under `--mask-root` (centre-cropped, resized to 64x64; at most
  MAX_TEXTURES of them, evenly chosen from the sorted file list), picked by a hash of
  i, or with `--mask-root noise` per-pixel uniform noise from a hash of (i, pixel), so
  it runs offline.
"""
import glob
import os

import numpy as np
import torch

from disvae.datasets.base import DATA_DIR
from disvae.datasets.dsprites import DSprites
from disvae.datasets.files import IMAGE_EXTENSIONS, _load_square, not_found
from disvae.options import Option, unit_interval
from disvae.runtime import to_device

MASK_MODES = ("fg", "bg")
MAX_TEXTURES = 2048
TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"


def hash32(keys):
    """A 32-bit integer hash (xor-shift-multiply rounds) of int64 keys, in [0, 2^32);
    integer arithmetic only, so the same on every device."""
    h = keys.long() & 0xFFFFFFFF
    for _ in range(3):
        h = (((h >> 16) ^ h) * 0x45D9F3B) & 0xFFFFFFFF
    return (h >> 16) ^ h


def hash_uniform(keys):
    """Deterministic uniform [0, 1) floats from int64 keys."""
    return hash32(keys).double().div(2.0 ** 32).float()


class DSpritesColor(DSprites):
    name = "dsprites_color"
    data_folder = "dsprites"  # reads dSprites' official file when present
    img_size = (3, 64, 64)

    def __init__(self, root=None, device="cpu"):
        super().__init__(root, device)
        self._colours = None

    def colours(self, indices):
        """(B, 3) sprite colours of flat indices."""
        if self._colours is None:
            table = np.random.default_rng(0).uniform(0.5, 1.0, (len(self), 3)).astype(np.float32)
            self._colours = torch.from_numpy(table)
        return to_device(self._colours[indices], self.device)

    def get_batch(self, indices):
        indices = torch.as_tensor(indices, dtype=torch.long)
        masks = super().get_batch(indices)  # (B, 1, 64, 64) in {0, 1}
        return masks * self.colours(indices).view(-1, 3, 1, 1)


class DSpritesMasked(DSprites):
    name = "dsprites_masked"
    data_folder = "dsprites"
    img_size = (3, 64, 64)
    options = {
        "mask_mode": Option("mask_mode", "bg", "dsprites_masked: texture in the sprite (fg) or in the background "
                            "(bg).", choices=MASK_MODES),
        "mask_strength": Option("mask_strength", 1.0, "dsprites_masked: texture strength in [0, 1] (0 is "
                                "dSprites).", unit_interval),
        "mask_root": Option("mask_root", None, "dsprites_masked: folder of natural images for the textures "
                            "(default: data/tiny-imagenet/), or `noise` for procedural noise (offline)."),
    }
    offline_options = {"mask_root": "noise"}

    def __init__(self, root=None, device="cpu", mask_mode="bg", mask_strength=1.0, mask_root=None):
        super().__init__(root, device)
        if mask_mode not in MASK_MODES:
            raise ValueError(f"mask mode must be one of {MASK_MODES}, got {mask_mode!r}")
        if not 0 <= mask_strength <= 1:
            raise ValueError(f"mask strength must be in [0, 1], got {mask_strength}")
        self.mask_mode, self.mask_strength, self.mask_root = mask_mode, float(mask_strength), mask_root
        self.textures = None if mask_root == "noise" else \
            load_textures(mask_root or os.path.join(DATA_DIR, "tiny-imagenet"))

    def texture(self, indices):
        """(B, 3, 64, 64) textures T(i) in [0, 1] of flat indices."""
        if self.textures is None:
            pixels = torch.arange(3 * 64 * 64, device=self.device)
            keys = hash32(to_device(indices, self.device)).view(-1, 1) ^ pixels.view(1, -1)
            return hash_uniform(keys).view(-1, 3, 64, 64)
        # the choice on the CPU, where the indices are: the same hash on every device
        choice = (hash_uniform(indices) * len(self.textures)).long().clamp(max=len(self.textures) - 1)
        return to_device(self.textures[choice], self.device).float().div_(255)

    def get_batch(self, indices):
        indices = torch.as_tensor(indices, dtype=torch.long)
        masks = super().get_batch(indices)  # (B, 1, 64, 64)
        s = self.mask_strength
        if s == 0:
            return masks.expand(-1, 3, -1, -1).clone()
        texture = self.texture(indices)
        if self.mask_mode == "fg":
            return masks * ((1 - s) + s * texture)
        return masks + (1 - masks) * (s * texture)


def load_textures(root):
    """uint8 (N, 3, 64, 64) of the images below `root` (at most MAX_TEXTURES, evenly chosen)."""
    files = sorted(f for f in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                   if f.lower().endswith(IMAGE_EXTENSIONS)) if root and os.path.isdir(root) else []
    if not files:
        raise not_found("dsprites_masked", root or ".", "a folder of natural images for the textures "
                        "(e.g. tiny-imagenet-200/train/*/images/*.JPEG), or --mask-root noise to run offline",
                        TINY_IMAGENET_URL, option="--mask-root")
    if len(files) > MAX_TEXTURES:
        files = [files[i] for i in np.linspace(0, len(files) - 1, MAX_TEXTURES).round().astype(int)]
    return torch.from_numpy(np.stack([_load_square(f, 64, "RGB") for f in files]))
