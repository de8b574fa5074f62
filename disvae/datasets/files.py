"""Datasets read from files the user provides. Nothing is ever downloaded: when the
files are missing, `DatasetNotFoundError` says where to put them.

- mnist, fashion: torchvision's MNIST / FashionMNIST readers (IDX files under
  <root>/MNIST/raw or <root>/FashionMNIST/raw), resized to 32x32.
- celeba: <root>/img_align_celeba/*.jpg or <root>/img_align_celeba.zip; centre-cropped
  to a square, resized to 64x64 RGB.
- chairs: <root>/rendered_chairs/**/*.png (3D Chairs); centre-cropped, 64x64 grayscale.
- imagefolder: any folder of images (recursively), 64x64, channels from --channels or
  inferred (1 when every image is grayscale, else 3).
Preprocessed arrays (uint8, N x C x H x W) of celeba and chairs are cached once
under <root>/ as .npy and memory-mapped afterwards.
"""
import glob
import io
import os
import zipfile

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from disvae.datasets.base import TensorImageDataset
from disvae.errors import DatasetFileError, DatasetNotFoundError
from disvae.io import atomic_save_npy
from disvae.options import Option

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def unreadable(path, what, err):
    return DatasetFileError(f"{path} is not a readable {what} ({type(err).__name__}: "
                            f"{' '.join(str(err).split())[:150]}); replace or remove it")


def not_found(name, root, expected, url, option="--data-root"):
    return DatasetNotFoundError(
        f"dataset '{name}' not found: looked in {os.path.abspath(root)} for {expected}. "
        f"This toolkit never downloads; place the files there (or pass {option} PATH to use "
        f"another folder). With internet access you can get them from {url}.")


def _resize(images, size):
    """uint8 (N, C, h, w) -> uint8 (N, C, size, size), bilinear with antialiasing."""
    out = []
    for start in range(0, len(images), 4096):
        chunk = torch.as_tensor(images[start:start + 4096]).float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(chunk.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


class MNIST(TensorImageDataset):
    name, tv_name, folder = "mnist", "MNIST", "MNIST"
    url = "http://yann.lecun.com/exdb/mnist/"
    img_size = (1, 32, 32)
    splits = ("train", "test")

    def __init__(self, root, split="train"):
        import torchvision
        tv_class = getattr(torchvision.datasets, self.tv_name)
        try:
            data = tv_class(root, train=split == "train", download=False).data  # (N, 28, 28) uint8
        except (ValueError, AssertionError, EOFError, OSError, IndexError) as err:  # the files are there but broken
            raise unreadable(os.path.join(root, self.folder, "raw"), f"{self.tv_name} IDX file set", err) from None
        except RuntimeError:
            raise not_found(self.name, os.path.join(root, self.folder, "raw"),
                            "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                            "and t10k-labels-idx1-ubyte (optionally .gz)", self.url) from None
        super().__init__(_resize(data.unsqueeze(1), 32))


class FashionMNIST(MNIST):
    name, tv_name, folder = "fashion", "FashionMNIST", "FashionMNIST"
    url = "https://github.com/zalandoresearch/fashion-mnist"


def open_image(source, label=None):
    """PIL image of a path or file object; DatasetFileError (one line) if it is not an image."""
    try:
        img = Image.open(source)
        img.load()
        return img
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as err:
        raise unreadable(label or source, "image", err) from None


def _load_square(source, size, mode, label=None):
    """Open an image, centre-crop it to a square, resize, return uint8 (C, size, size)."""
    with open_image(source, label) as img:
        img = img.convert(mode)
        w, h = img.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
        array = np.asarray(img, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


class CachedImageDataset(TensorImageDataset):
    """Preprocess a list of image sources once into <root>/<cache_name>.npy."""
    cache_name = None

    def __init__(self, root):
        cache = os.path.join(root, self.cache_name)
        if not os.path.exists(cache):
            atomic_save_npy(cache, self.preprocess(root))
        super().__init__(np.load(cache, mmap_mode="r"))


class CelebA(CachedImageDataset):
    name = "celeba"
    cache_name = "celeba64.npy"
    img_size = (3, 64, 64)

    def preprocess(self, root):
        folder = os.path.join(root, "img_align_celeba")
        files = sorted(glob.glob(os.path.join(folder, "*.jpg")))
        if files:
            return np.stack([_load_square(f, 64, "RGB") for f in files])
        archive = os.path.join(root, "img_align_celeba.zip")
        if os.path.exists(archive):
            try:
                with zipfile.ZipFile(archive) as zf:
                    names = sorted(n for n in zf.namelist() if n.lower().endswith(".jpg"))
                    if names:
                        return np.stack([_load_square(io.BytesIO(zf.read(n)), 64, "RGB", f"{archive}:{n}")
                                         for n in names])
            except (zipfile.BadZipFile, EOFError, OSError) as err:
                raise unreadable(archive, "zip archive", err) from None
        raise not_found("celeba", root, "img_align_celeba/*.jpg or img_align_celeba.zip (aligned and cropped)",
                        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html")


class Chairs(CachedImageDataset):
    name = "chairs"
    cache_name = "chairs64.npy"
    img_size = (1, 64, 64)

    def preprocess(self, root):
        files = sorted(glob.glob(os.path.join(root, "rendered_chairs", "**", "*.png"), recursive=True))
        if not files:
            raise not_found("chairs", root, "rendered_chairs/<chair>/renders/*.png (3D Chairs)",
                            "https://www.di.ens.fr/willow/research/seeing3Dchairs/data/rendered_chairs.tar")
        return np.stack([_load_square(f, 64, "L") for f in files])


class ImageFolder(TensorImageDataset):
    """Every image below `root` (--data-root, required), 64x64; `channels` 1 or 3, or None to infer."""
    name = "imagefolder"
    options = {"channels": Option("channels", None, "Channels of `imagefolder` images (default: inferred).", int,
                                  choices=(1, 3))}

    @classmethod
    def default_root(cls):
        return None  # no default folder: --data-root is required

    def __init__(self, root, channels=None):
        if root is None:
            raise DatasetNotFoundError("dataset 'imagefolder' needs --data-root PATH, a folder of images")
        files = sorted(f for f in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise DatasetNotFoundError(
                f"dataset 'imagefolder': no images ({', '.join(IMAGE_EXTENSIONS)}) found in "
                f"{os.path.abspath(root)}; pass --data-root PATH pointing at a folder of images.")
        if channels is None:
            modes = set()
            for f in files:
                with open_image(f) as img:
                    modes.add(img.mode)
            channels = 1 if modes <= {"L", "1", "I", "I;16", "F"} else 3
        mode = "L" if channels == 1 else "RGB"
        super().__init__(torch.from_numpy(np.stack([_load_square(f, 64, mode) for f in files])))
