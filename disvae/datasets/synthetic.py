"""The research's synthetic ground-truth datasets (spec section C), rendered on the fly.

XYObject: one filled square on a black RGB canvas; factors x (25), y (25),
scale (5: sizes 7..15), color (24: rainbow palette at 4 brightness levels).
XYObjectShaded: the same 75,000 images with colour split into intensity (4) and
color (6). XYSquares: three 8x8 squares, one per RGB channel, each on its own
position grid. Pixels are uint8 values / 255.
"""
import numpy as np
import torch

from disvae.datasets.base import GroundTruthDataset, device_constant
from disvae.options import Option, positive

BASE_COLOURS = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1]], dtype=np.float64)
SQUARE_SIZES = (7, 9, 11, 13, 15)
XY_SPACING = 2


def shaded_palette(n_levels=4):
    """(levels, 6, 3) uint8: floor(base * 255 * level / n_levels) for level 1..n_levels."""
    levels = np.arange(1, n_levels + 1).reshape(-1, 1, 1)
    return np.floor(BASE_COLOURS[None] * 255 * levels / n_levels).astype(np.uint8)


def _square_masks(top, left, size, canvas=64):
    """(B,) top-left corners and sizes -> (B, H, W) boolean masks."""
    grid = torch.arange(canvas, device=top.device)
    rows = (grid.view(1, -1) >= top.view(-1, 1)) & (grid.view(1, -1) < (top + size).view(-1, 1))
    cols = (grid.view(1, -1) >= left.view(-1, 1)) & (grid.view(1, -1) < (left + size).view(-1, 1))
    return rows.unsqueeze(2) & cols.unsqueeze(1)


class XYObject(GroundTruthDataset):
    name = "xyobject"
    lat_names = ("x", "y", "scale", "color")
    lat_sizes = (25, 25, 5, 24)
    img_size = (3, 64, 64)

    def __init__(self, root=None, device="cpu"):
        super().__init__(device)
        self.palette = tuple(map(tuple, shaded_palette().reshape(24, 3).tolist()))  # level-major, base colour minor

    @property
    def factor_values(self):
        return [np.arange(25) * XY_SPACING, np.arange(25) * XY_SPACING, np.array(SQUARE_SIZES, dtype=float),
                np.arange(24, dtype=float)]

    def _render(self, x, y, size_class, colour_index):
        sizes = device_constant(SQUARE_SIZES, x.device)[size_class]
        offset = (max(SQUARE_SIZES) - sizes) // 2
        mask = _square_masks(XY_SPACING * y + offset, XY_SPACING * x + offset, sizes)
        colour = device_constant(self.palette, x.device, torch.uint8)[colour_index].float().div(255)  # (B, 3)
        return mask.unsqueeze(1).float() * colour.view(-1, 3, 1, 1)

    def render(self, classes):
        x, y, size_class, colour = classes.unbind(-1)
        return self._render(x, y, size_class, colour)


class XYObjectShaded(XYObject):
    name = "xyobject_shaded"
    lat_names = ("x", "y", "scale", "intensity", "color")
    lat_sizes = (25, 25, 5, 4, 6)

    @property
    def factor_values(self):
        values = super().factor_values[:3]
        return values + [np.arange(4, dtype=float), np.arange(6, dtype=float)]

    def render(self, classes):
        x, y, size_class, intensity, colour = classes.unbind(-1)
        return self._render(x, y, size_class, intensity * 6 + colour)


class XYSquares(GroundTruthDataset):
    name = "xysquares"
    lat_names = ("x_R", "y_R", "x_G", "y_G", "x_B", "y_B")
    img_size = (3, 64, 64)
    square_size = 8
    options = {"spacing": Option("xysquares_spacing", 8, "Grid spacing of xysquares (< 8 makes squares overlap).",
                                 positive(int))}

    def __init__(self, root=None, device="cpu", spacing=8):
        if not 1 <= spacing <= 64 - self.square_size:
            raise ValueError(f"xysquares spacing must be in 1..{64 - self.square_size}, got {spacing}")
        self.spacing = spacing
        n_positions = (64 - self.square_size) // spacing + 1
        self.lat_sizes = (n_positions,) * 6
        super().__init__(device)

    @property
    def factor_values(self):
        return [np.arange(n) * self.spacing for n in self.lat_sizes]

    def render(self, classes):
        size = torch.full_like(classes[:, 0], self.square_size)
        channels = [_square_masks(self.spacing * classes[:, 2 * c + 1], self.spacing * classes[:, 2 * c], size)
                    for c in range(3)]
        return torch.stack(channels, 1).float()
