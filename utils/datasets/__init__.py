"""Dataset registry: procedural ground-truth datasets (default) and file-backed ones.

`get_dataset(name)` returns the class (as the reference does); `load_dataset(name, ...)`
builds an instance with its data root (default data/<name>).
"""
import os

from utils.datasets.base import GroundTruthDataset, ImageDataset, TensorImageDataset, TRIPLET_MODES
from utils.datasets.dsprites import DSprites
from utils.datasets.dsprites_variants import MASK_MODES, DSpritesColor, DSpritesMasked
from utils.datasets.files import CelebA, Chairs, DatasetNotFoundError, FashionMNIST, ImageFolder, MNIST
from utils.datasets.loaders import BatchLoader
from utils.datasets.synthetic import XYObject, XYObjectShaded, XYSquares

DATASETS = {
    "dsprites": DSprites,
    "dsprites_color": DSpritesColor,
    "dsprites_masked": DSpritesMasked,
    "xyobject": XYObject,
    "xyobject_shaded": XYObjectShaded,
    "xysquares": XYSquares,
    "mnist": MNIST,
    "fashion": FashionMNIST,
    "celeba": CelebA,
    "chairs": Chairs,
    "imagefolder": ImageFolder,
}
PROCEDURAL = [name for name, cls in DATASETS.items() if issubclass(cls, GroundTruthDataset)]
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data")


def get_dataset(name):
    """The dataset class registered as `name`."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None


DATA_FOLDERS = {"dsprites_color": "dsprites", "dsprites_masked": "dsprites"}  # variants read dSprites' file


def default_root(name):
    return os.path.join(DATA_DIR, DATA_FOLDERS.get(name, name))


def load_dataset(name, root=None, **kwargs):
    """An instance of dataset `name`. kwargs: `spacing` (xysquares), `channels`
    (imagefolder), `train` (mnist/fashion), `device` (procedural rendering)."""
    cls = get_dataset(name)
    if name == "imagefolder" and root is None:
        raise DatasetNotFoundError("dataset 'imagefolder' needs --data-root PATH, a folder of images")
    return cls(root=root or default_root(name), **kwargs)


def load_dataset_of_run(run_args, device="cpu"):
    """The dataset a run's parameters (a dict, as in specs.json) describe."""
    name = run_args["dataset"]
    kwargs = {}
    if name == "xysquares":
        kwargs["spacing"] = run_args.get("xysquares_spacing", 8)
    if name == "imagefolder":
        kwargs["channels"] = run_args.get("channels")
    if name == "dsprites_masked":
        kwargs.update({key: run_args[key] for key in ("mask_mode", "mask_strength") if key in run_args},
                      mask_root=run_args.get("mask_root") or os.path.join(DATA_DIR, "tiny-imagenet"))
    if name in PROCEDURAL:
        kwargs["device"] = device  # rendered on the training device
    return load_dataset(name, run_args.get("data_root"), **kwargs)


def get_img_size(name):
    return get_dataset(name).img_size


__all__ = ["DATASETS", "MASK_MODES", "PROCEDURAL", "BatchLoader", "DatasetNotFoundError", "GroundTruthDataset",
           "ImageDataset", "TensorImageDataset", "TRIPLET_MODES", "get_dataset", "get_img_size", "load_dataset",
           "load_dataset_of_run"]
