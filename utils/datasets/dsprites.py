"""dSprites (Matthey et al. 2017), rendered procedurally, or read from the official file.

Factors and flat-index order are the official file's: shape 3 (square, ellipse,
heart; values 1, 2, 3), scale 6 (0.5 .. 1.0), orientation 40 (linspace(0, 2 pi, 40)),
posX 32 and posY 32 (linspace(0, 1, 32)); shape varies slowest, posY fastest.
(The official file's constant colour factor is dropped, as the reference does.)

Rendering rule (the original renderer is not published; this one is ours):
- a pixel (row i, column j) is sampled at its centre (j + 0.5, i + 0.5);
- the sprite centre is c = MARGIN + pos * (64 - 2 * MARGIN), posX along columns and
  posY along rows, so it moves linearly across the canvas;
- the pixel, relative to c, is rotated by -orientation about the sprite centre and
  divided by the linear size SIZE * scale; the pixel is white when the resulting
  point (u, v) (v pointing up) lies inside the unit shape:
    square:  max(|u|, |v|) <= 1                                   (area 4)
    ellipse: (u / 1.6)^2 + (v / 0.8)^2 <= 1                        (area ~4.02)
    heart:   with (x, y) = (u, v + 0.1) / HEART_SCALE, (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0  (area ~3.9)
- SIZE = 8.6 px is calibrated so the mean pixel intensity over the whole set is
  0.0425 like the official file (tests/test_datasets.py checks within 10%);
  MARGIN = 14.5 px exceeds every sprite's radius at scale 1, so no pixel ever leaves
  the canvas.
"""
import math
import os
import zipfile

import numpy as np
import torch

from utils.datasets.base import GroundTruthDataset

SIZE = 8.6
MARGIN = 14.5
HEART_SCALE = 1.04  # heart curve area is ~3.6; this brings it to ~3.9
OFFICIAL_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


def _inside(shape, u, v):
    """Boolean mask of the unit `shape` (0 square, 1 ellipse, 2 heart) at points (u, v)."""
    if shape == 0:
        return torch.maximum(u.abs(), v.abs()) <= 1
    if shape == 1:
        return (u / 1.6) ** 2 + (v / 0.8) ** 2 <= 1
    x2, y = (u / HEART_SCALE) ** 2, (v + 0.1) / HEART_SCALE
    return (x2 + y * y - 1) ** 3 - x2 * y ** 3 <= 0


class DSprites(GroundTruthDataset):
    name = "dsprites"
    lat_names = ("shape", "scale", "orientation", "posX", "posY")
    lat_sizes = (3, 6, 40, 32, 32)
    img_size = (1, 64, 64)
    files = {"train": OFFICIAL_FILE}

    def __init__(self, root=None, device="cpu"):
        super().__init__(device)
        self.packed = None
        path = os.path.join(root, OFFICIAL_FILE) if root else None
        if path and os.path.exists(path):
            self.packed = load_official_images(path, self)

    @property
    def factor_values(self):
        return [np.array([1.0, 2.0, 3.0]), np.linspace(0.5, 1.0, 6), np.linspace(0, 2 * np.pi, 40),
                np.linspace(0, 1, 32), np.linspace(0, 1, 32)]

    def render(self, classes):
        shape, scale_c, orient_c, x_c, y_c = classes.unbind(-1)
        scale = (0.5 + 0.1 * scale_c.float()).view(-1, 1, 1)
        theta = (orient_c.float() * (2 * math.pi / 39)).view(-1, 1, 1)
        cx = (MARGIN + x_c.float() / 31 * (64 - 2 * MARGIN)).view(-1, 1, 1)
        cy = (MARGIN + y_c.float() / 31 * (64 - 2 * MARGIN)).view(-1, 1, 1)
        grid = torch.arange(64, device=classes.device, dtype=torch.float32) + 0.5
        dx = grid.view(1, 1, 64) - cx          # (B, 1, 64) columns
        dy = cy - grid.view(1, 64, 1)          # (B, 64, 1) rows, pointing up
        cos, sin = torch.cos(theta), torch.sin(theta)
        size = SIZE * scale
        u = (cos * dx + sin * dy) / size       # rotate by -theta: (B, 64, 64)
        v = (-sin * dx + cos * dy) / size
        images = torch.zeros(len(classes), 1, 64, 64, device=classes.device)
        for s in range(3):  # each shape's test only on the sprites of that shape
            rows = (shape == s).nonzero().squeeze(1)
            if len(rows):
                images[rows, 0] = _inside(s, u[rows], v[rows]).float()
        return images

    def get_batch(self, indices):
        if self.packed is None:
            return super().get_batch(indices)
        bits = np.unpackbits(self.packed[np.asarray(indices)], axis=1)  # (B, 4096)
        return torch.from_numpy(bits).view(-1, 1, 64, 64).float().to(self.device)


def load_official_images(path, dataset, chunk=16384):
    """Read the official .npz, check its factor layout against ours, and return its
    images packed 8 pixels per byte ((N, 512) uint8, ~380 MB for the full set),
    streaming the images so the 3 GB uint8 array never sits in memory."""
    with np.load(path, allow_pickle=False) as npz:
        classes = npz["latents_classes"]
        values = npz["latents_values"]
    if classes.shape != (len(dataset), 6) or values.shape != (len(dataset), 6):
        raise ValueError(f"{path}: expected latents of shape ({len(dataset)}, 6), got {classes.shape}")
    check_layout(dataset, classes[:, 1:], values[:, 1:])
    with zipfile.ZipFile(path) as archive, archive.open("imgs.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)
        n_pixels = int(np.prod(shape[1:]))
        packed = np.empty((shape[0], n_pixels // 8), dtype=np.uint8)
        for start in range(0, shape[0], chunk):
            n = min(chunk, shape[0] - start)
            raw = np.frombuffer(f.read(n * n_pixels * dtype.itemsize), dtype=dtype).reshape(n, n_pixels)
            packed[start:start + n] = np.packbits(raw > 0, axis=1)
    return packed


def check_layout(dataset, classes, values, atol=1e-6):
    """Raise ValueError unless rows (classes (N, F), values (N, F)) follow our index
    order (row r has flat index r) and our factor values."""
    ours = dataset.index_to_classes(torch.arange(len(classes))).numpy()
    if not np.array_equal(ours, classes):
        raise ValueError("official dSprites file: factor classes are not in the expected index order")
    if not np.allclose(dataset.classes_to_values(classes), values, atol=atol):
        raise ValueError("official dSprites file: factor values differ from the expected grid")
