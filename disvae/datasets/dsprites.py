"""dSprites (Matthey et al. 2017), rendered procedurally as the official file, or read
from the official file.

Factors and flat-index order are the official file's: shape 3 (square, ellipse,
heart; values 1, 2, 3), scale 6 (0.5 .. 1.0), orientation 40 (linspace(0, 2 pi, 40)),
posX 32 and posY 32 (linspace(0, 1, 32)); shape varies slowest, posY fastest.
(The official file's constant colour factor is dropped, as the reference does.)

Rendering (version 2), measured from the official frames (tests/data/dsprites_official/,
Apache-2.0, Matthey et al.): the official images were drawn as vector shapes on a canvas
of size 1 and rasterised without antialiasing (Love2D, deepmind/dsprites-dataset#2).
- a pixel (row i, column j) is white when its centre (j + 0.5, i + 0.5) lies inside the shape;
- the sprite centre is c = 16 + 32 * pos pixels (a quarter to three quarters of the
  canvas), posX along columns and posY along rows;
- the pixel, relative to c, is rotated by -orientation (v pointing up, so the sprite
  turns counter-clockwise on screen) and divided by the scale, giving (u, v) in pixels
  of a scale-1 sprite; inside the unit shape means:
    square:  max(|u|, |v|) <= 9.5982                      (~0.15 of the canvas)
    ellipse: (u / 12.76589)^2 + (v / 7.21235)^2 <= 1
    heart:   inside a polygon symmetric about u = 0 traced from the frames (HEART_RADII):
             a pointed tip, lower sides at about 45 degrees, two round lobes and a
             deep notch.
Every square and ellipse frame of the official animation is reproduced with no differing
pixel, every heart frame with at most 3 (tests/test_datasets.py allows 4). The mean
pixel intensity is ~0.0427 (the official file's: 0.0425).

Version 1 (disvae before renderings were versioned) drew other shapes (sprite centre 14.5 + 35 * pos, squares
8.6 * scale, ellipses with aspect 2, larger hearts): models trained on it say so when
they are evaluated or plotted (disvae.results.rendering_note).
"""
import math
import os
import zipfile

import numpy as np
import torch

from disvae.datasets.base import GroundTruthDataset, device_constant
from disvae.runtime import to_device

SPAN_PX = 32  # sprite centre in pixels: 16 + SPAN_PX * pos, pos = k / 31
WINDOW = 32  # pixels around the centre that a sprite can cover (radius at most 13.6)
SQUARE_HALF_SIDE = 9.5982
ELLIPSE_AXES = (12.76589, 7.21235)
# The heart's right half (u >= 0) from its tip to its notch, a polygon of vertices at
# HEART_ANGLES degrees about the sprite centre and HEART_RADII pixels of a scale-1 sprite,
# fitted to the 192 heart frames of the official animation (each radius moved while that
# lowered the number of differing pixels; the result differs by at most 3 in any frame).
HEART_ANGLES = tuple(range(-90, 91, 5))
HEART_RADII = (9.5600, 7.9947, 7.4030, 6.8247, 6.2631, 6.3997, 5.8518, 5.9604, 5.9198, 5.9263, 5.9514, 6.0227,
               6.1531, 6.3525, 6.6034, 6.8619, 7.2587, 7.6471, 8.0611, 8.6955, 9.1714, 9.7599, 10.1696, 10.6248,
               10.8813, 11.1235, 11.2409, 11.3011, 11.1909, 11.0226, 10.7362, 10.3040, 9.7079, 8.8957, 7.9747,
               6.6957, 5.1917)
OFFICIAL_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


def _heart_polygon():
    """Vertex angles (K,) and (x, y) of the heart's right half, tip to notch (float32 tuples)."""
    angles = torch.tensor(HEART_ANGLES, dtype=torch.float64) * (math.pi / 180)
    radii = torch.tensor(HEART_RADII, dtype=torch.float64)
    return tuple(tuple(t.float().tolist()) for t in (angles, radii * torch.cos(angles), radii * torch.sin(angles)))


HEART_POLYGON = _heart_polygon()


def inside_heart(u, v):
    """Boolean mask of the heart at points (u, v): the outline is star-shaped about the
    centre, so a point is inside when it lies left of the edge its angle falls on."""
    angles, x, y = (device_constant(values, u.device) for values in HEART_POLYGON)
    u = u.abs()  # symmetric about u = 0
    phi = torch.atan2(v, u)  # (-pi/2, pi/2]
    k = (torch.searchsorted(angles, phi.contiguous()) - 1).clamp(0, len(angles) - 2)
    x0, y0, x1, y1 = x[k], y[k], x[k + 1], y[k + 1]
    return (x1 - x0) * (v - y0) - (y1 - y0) * (u - x0) >= 0


def inside_shapes(shape, u, v):
    """Mask of each sprite's own shape (0 square, 1 ellipse, 2 heart) at points (u, v):
    every test on every pixel, then a select, so no shape needs its rows gathered."""
    a, b = ELLIPSE_AXES
    square = torch.maximum(u.abs(), v.abs()) <= SQUARE_HALF_SIDE
    ellipse = (u / a) ** 2 + (v / b) ** 2 <= 1
    shape = shape.view(-1, 1, 1)
    return torch.where(shape == 0, square, torch.where(shape == 1, ellipse, inside_heart(u, v)))


class DSprites(GroundTruthDataset):
    name = "dsprites"
    version = 2
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
        n = len(classes)
        scale = (0.5 + 0.1 * scale_c.float()).view(-1, 1, 1)
        theta = (orient_c.float() * (2 * math.pi / 39)).view(-1, 1, 1)
        # sprite centre 16 + SPAN_PX * k / 31 = 16 + whole + frac (exact in integers); shapes are
        # drawn in the WINDOW x WINDOW pixels centred on 16 + whole: sprites never reach further
        whole_x, whole_y = SPAN_PX * x_c // 31, SPAN_PX * y_c // 31
        frac_x = ((SPAN_PX * x_c % 31).float() / 31).view(-1, 1, 1)
        frac_y = ((SPAN_PX * y_c % 31).float() / 31).view(-1, 1, 1)
        grid = torch.arange(WINDOW, device=classes.device, dtype=torch.float32) + 0.5 - WINDOW // 2
        dx = grid.view(1, 1, -1) - frac_x      # (B, 1, W) columns, relative to the centre
        dy = frac_y - grid.view(1, -1, 1)      # (B, W, 1) rows, pointing up
        cos, sin = torch.cos(theta), torch.sin(theta)
        u = (cos * dx + sin * dy) / scale      # rotate by -theta: (B, W, W)
        v = (-sin * dx + cos * dy) / scale
        window = inside_shapes(shape, u, v).float()
        # where each window pixel lands on the 64 x 64 canvas
        rows = (whole_y.view(-1, 1, 1) + torch.arange(WINDOW, device=classes.device).view(1, -1, 1)) * 64
        flat = (rows + whole_x.view(-1, 1, 1) + torch.arange(WINDOW, device=classes.device).view(1, 1, -1))
        images = torch.zeros(n, 64 * 64, device=classes.device)
        images.scatter_(1, flat.flatten(1), window.flatten(1))
        return images.view(n, 1, 64, 64)

    def get_batch(self, indices):
        if self.packed is None:
            return super().get_batch(indices)
        bits = np.unpackbits(self.packed[np.asarray(indices)], axis=1)  # (B, 4096)
        return to_device(torch.from_numpy(bits), self.device).view(-1, 1, 64, 64).float()


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
