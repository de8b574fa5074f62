"""Images the library writes itself: grids of decoded images, PNG/GIF files written
atomically, and the per-epoch training GIF (its frames are kept compressed in
checkpoints). The command-line plots of utils/visualize.py are built from these."""
import io

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy.stats import norm

from disvae.io import atomic_write

TRAINING_GIF_STEPS = 10
LABEL_WIDTH = 70


def to_uint8(grid):
    """(C, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    array = (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def image_grid(images, n_cols, padding=2, upsample=1):
    """(N, C, H, W) -> (H', W', 3) uint8 grid with n_cols columns."""
    from torchvision.utils import make_grid  # importing torchvision takes ~1 s: only when drawing
    if upsample > 1:
        images = torch.nn.functional.interpolate(images, scale_factor=upsample, mode="nearest")
    return to_uint8(make_grid(images.float().cpu(), nrow=n_cols, padding=padding, pad_value=1.0))


def add_row_labels(array, labels, row_height, padding=2):
    """Prepend a white margin with one text label per grid row."""
    image = Image.new("RGB", (array.shape[1] + LABEL_WIDTH, array.shape[0]), "white")
    image.paste(Image.fromarray(array), (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(image)
    for i, label in enumerate(labels):
        draw.text((3, padding + i * (row_height + padding) + row_height // 2 - 6), label, fill="black")
    return np.asarray(image)


def save_png(array, path):
    atomic_write(path, lambda f: Image.fromarray(array).save(f, format="PNG"))


def save_gif(frames, path, duration_ms=120):
    atomic_write(path, lambda f: iio.imwrite(f, np.stack(frames), extension=".gif", duration=duration_ms, loop=0))


def traversal_values(max_traversal, n_steps, mean=0.0, std=1.0):
    """(n_steps,) latent values: +-m around `mean`, or the quantiles m..1-m of N(mean, std)."""
    if max_traversal >= 0.5:
        return mean + np.linspace(-max_traversal, max_traversal, n_steps)
    return norm.ppf(np.linspace(max_traversal, 1 - max_traversal, n_steps), loc=mean, scale=std)


@torch.no_grad()
def decode(model, z):
    return torch.sigmoid(model.decoder(z.to(next(model.parameters()).device))).cpu()


def compress_frame(frame):
    """An (H, W, 3) uint8 frame as PNG bytes in a uint8 tensor (what checkpoints hold:
    a few kB per epoch, and loadable by the safe unpickler); tensors pass through."""
    if torch.is_tensor(frame):
        return frame
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def decompress_frame(frame):
    """Inverse of compress_frame: (H, W, 3) uint8 array."""
    with Image.open(io.BytesIO(frame.numpy().tobytes())) as image:
        return np.asarray(image.convert("RGB"))


@torch.no_grad()
def training_frame(model, n_steps=TRAINING_GIF_STEPS, max_traversal=2.0):
    """One training.gif frame, compressed: each latent (row) traversed over the prior, others at 0."""
    was_training = model.training
    model.eval()
    values = torch.tensor(traversal_values(max_traversal, n_steps), dtype=torch.float32)
    z = torch.zeros(model.latent_dim, n_steps, model.latent_dim)
    z[torch.arange(model.latent_dim), :, torch.arange(model.latent_dim)] = values
    frame = image_grid(decode(model, z.view(-1, model.latent_dim)), n_steps)
    model.train(was_training)
    return compress_frame(frame)


def write_training_gif(frames, path):
    """training.gif from the compressed frames, one per epoch."""
    if frames:
        arrays = [decompress_frame(f) for f in frames]
        labelled = [add_row_labels(f, [f"epoch {i + 1}"], f.shape[0] - 4) for i, f in enumerate(arrays)]
        save_gif(labelled, path, duration_ms=400)
