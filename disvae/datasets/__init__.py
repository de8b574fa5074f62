"""Dataset registry: every dataset class (an ImageDataset with a `name`) of the modules in
this folder, found when the package is imported: procedural ground-truth datasets
(rendered on the fly, the defaults) and file-backed ones. Adding a dataset: one class
with its `name`, `options` and `get_batch` (ground-truth datasets: factors and `render`)
in a module here; plus its test.

`get_dataset(name)` returns the class (as the reference does); `load_dataset(name, ...)`
builds an instance from its data root (default data/<data_folder>) and its options.
"""
from disvae.datasets.base import DATA_DIR, TRIPLET_MODES, GroundTruthDataset, ImageDataset, TensorImageDataset
from disvae.datasets.loaders import BatchLoader
from disvae.errors import DatasetNotFoundError
from disvae.registry import defined_subclass, discover

DATASETS = discover(__name__, __path__, defined_subclass(ImageDataset), "datasets")  # name -> dataset class
PROCEDURAL = [name for name, cls in DATASETS.items() if cls.procedural]


def get_dataset(name):
    """The dataset class registered as `name`."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None


def load_dataset(name, root=None, device="cpu", split="train", **options):
    """An instance of dataset `name`: files under `root` (default its data folder), rendered
    on `device` (procedural datasets), the `split` ("train", or "test" where it has one),
    and its own `options` (e.g. spacing=4 for xysquares); any other keyword is an error."""
    cls = get_dataset(name)
    unknown = sorted(set(options) - set(cls.options))
    if unknown:
        known = ", ".join(cls.options) or "none"
        raise ValueError(f"dataset {name!r} has no option {', '.join(unknown)} (its options: {known})")
    if split not in cls.splits:
        raise ValueError(f"dataset {name!r} has no {split!r} split (it has {', '.join(cls.splits)})")
    kwargs = dict(options)
    if cls.procedural:
        kwargs["device"] = device
    if split != "train":
        kwargs["split"] = split
    return cls(root=root or cls.default_root(), **kwargs)


def load_dataset_of_run(params, device="cpu", split="train"):
    """The dataset a run's parameters (a dict, as in specs.json) describe; a split it does
    not have falls back to its training images."""
    cls = get_dataset(params["dataset"])
    options = {argument: params[option.name] for argument, option in cls.options.items() if option.name in params}
    return load_dataset(cls.name, params.get("data_root"), device, split if split in cls.splits else "train",
                        **options)


__all__ = ["DATASETS", "DATA_DIR", "PROCEDURAL", "TRIPLET_MODES", "BatchLoader", "DatasetNotFoundError",
           "GroundTruthDataset", "ImageDataset", "TensorImageDataset", "get_dataset", "load_dataset",
           "load_dataset_of_run"]
