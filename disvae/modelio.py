"""Loading and saving trained models with their specs.

Nothing read from a results folder can run code:
- every `.pt` file is read with `torch.load(weights_only=True)`, PyTorch's restricted
  unpickler, which rebuilds tensors, numbers, strings and plain containers and refuses
  any other Python object. A file that asks for one (a pickled `__reduce__` payload,
  say) is refused with one line before anything in it runs; the checkpoints main.py
  writes hold nothing else (training.gif frames are PNG bytes in uint8 tensors);
- `specs.json` and `checkpoint.json` are validated (types, known keys, known loss,
  dataset and model names, plain file names) before any value is used.
"""
import json
import os
import re
import zipfile

import torch

from disvae.models import MODELS, build_model
from utils.cli import CLIError
from utils.io import atomic_write_json

MODEL_FILENAME = "model.pt"
SPECS_FILENAME = "specs.json"
CHECKPOINT_NAME = re.compile(r"model-(\d+|step\d+)\.pt")
STATUSES = ("running", "interrupted", "done")


def read_json(path, what):
    """A JSON object from `path`, or a one-line CLIError."""
    try:
        with open(path) as f:
            value = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CLIError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise CLIError(f"{path} is not a {what} (expected a JSON object, got {type(value).__name__})")
    return value


def _check(condition, path, message):
    if not condition:
        raise CLIError(f"{path}: {message}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_specs(specs, path):
    """Raise a one-line CLIError unless `specs` has the layout main.py writes."""
    from disvae.losses import LOSSES
    from utils.datasets import DATASETS
    _check(isinstance(specs.get("args"), dict), path, "'args' must be an object")
    _check(specs.get("loss") in LOSSES, path, f"unknown loss {specs.get('loss')!r} (known: {', '.join(LOSSES)})")
    _check(specs.get("dataset") in DATASETS, path,
           f"unknown dataset {specs.get('dataset')!r} (known: {', '.join(DATASETS)})")
    _check(specs.get("model_type", "Burgess") in MODELS, path,
           f"unknown model type {specs.get('model_type')!r} (known: {', '.join(MODELS)})")
    size = specs.get("img_size")
    _check(isinstance(size, list) and len(size) == 3 and all(_is_int(s) and s > 0 for s in size), path,
           f"'img_size' must be three positive integers, got {size!r}")
    _check(_is_int(specs.get("latent_dim")) and specs["latent_dim"] > 0, path,
           f"'latent_dim' must be a positive integer, got {specs.get('latent_dim')!r}")
    _check(specs.get("status", "done") in STATUSES, path, f"unknown status {specs.get('status')!r}")
    for key in ("global_step", "n_data"):
        _check(specs.get(key) is None or (_is_int(specs[key]) and specs[key] >= 0), path,
               f"'{key}' must be a non-negative integer, got {specs.get(key)!r}")
    args = specs["args"]
    for key in ("loss", "dataset"):
        _check(args.get(key, specs[key]) == specs[key], path, f"args.{key} {args.get(key)!r} != {key} {specs[key]!r}")
    for key, value in args.items():
        _check(value is None or isinstance(value, (bool, int, float, str)) or
               (isinstance(value, list) and all(isinstance(v, str) for v in value)), path,
               f"args.{key} has a value of type {type(value).__name__}")


def load_specs(save_dir, check_args=None):
    """specs.json of a results folder, validated; `check_args(args, path)` may check
    (and complete) the run parameters further."""
    path = os.path.join(save_dir, SPECS_FILENAME)
    if not os.path.isdir(save_dir):
        raise CLIError(f"no results folder {save_dir}; train it first with `python main.py NAME ...`")
    if not os.path.exists(path):
        raise CLIError(f"{path} is missing: {save_dir} is not a results folder of main.py")
    specs = read_json(path, "specs.json")
    validate_specs(specs, path)
    specs["args"].update(loss=specs["loss"], dataset=specs["dataset"])
    if check_args is not None:
        specs["args"] = check_args(specs["args"], path)
    return specs


def save_specs(save_dir, specs):
    atomic_write_json(os.path.join(save_dir, SPECS_FILENAME), specs)


def read_checkpoint_pointer(save_dir):
    """Filename of the newest checkpoint in `save_dir` (from checkpoint.json), or None."""
    path = os.path.join(save_dir, "checkpoint.json")
    if not os.path.exists(path):
        return None
    latest = read_json(path, "checkpoint pointer").get("latest")
    if not isinstance(latest, str) or not CHECKPOINT_NAME.fullmatch(latest):
        raise CLIError(f"{path}: 'latest' must name a checkpoint file such as model-step100.pt, got {latest!r}")
    return latest if os.path.exists(os.path.join(save_dir, latest)) else None


def _unsafe_globals(path):
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a torch zip archive: reported as unreadable below
        return None


def _legacy_frame_globals():
    """The numpy pieces that uint8 arrays need: checkpoints of disvae 0.1.0 held their
    training.gif frames as numpy arrays. Building an array runs no code of the file."""
    import numpy as np
    reconstruct = (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct
    return {"numpy.ndarray": np.ndarray, "numpy.dtype": np.dtype, "numpy.dtypes.UInt8DType": np.dtypes.UInt8DType,
            f"{reconstruct.__module__}._reconstruct": reconstruct}


def load_state(path, what="model"):
    """The contents of a .pt file, read by PyTorch's restricted unpickler; one-line
    CLIError for missing, corrupt or code-carrying files (nothing in them is run)."""
    if not os.path.exists(path):
        raise CLIError(f"no {what} at {path}; train it first (or wait for training to finish)")
    if not zipfile.is_zipfile(path):
        raise CLIError(f"{path} is not a {what} file written by main.py (not a PyTorch zip archive: truncated, "
                       "foreign, or a raw pickle that may contain code); it was not loaded")
    unsafe = _unsafe_globals(path) or []
    legacy = _legacy_frame_globals()
    refused = [name for name in unsafe if name not in legacy]
    if refused:
        raise CLIError(f"{path} asks for Python objects the safe loader refuses ({', '.join(refused[:3])}); "
                       "it may contain code and was not loaded")
    try:
        with torch.serialization.safe_globals(list(legacy.values()) if unsafe else []):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, garbage records: all mean "corrupt"
        raise CLIError(f"{path} is not a readable {what} file ({type(err).__name__}); "
                       "it may be truncated or not produced by main.py") from None


def load_checkpoint(path):
    """A resumable training checkpoint; training.gif frames of disvae 0.1.0 checkpoints
    (numpy arrays) are converted to the PNG tensors written now."""
    from utils.visualize import compress_frame
    state = load_state(path, "checkpoint")
    if not isinstance(state, dict) or not {"model", "optimizer", "loss", "loader", "global_step"} <= set(state):
        raise CLIError(f"{path} is not a resumable checkpoint of main.py")
    state["frames"] = [compress_frame(frame) for frame in state.get("frames", [])]
    return state


def load_model(save_dir, filename=MODEL_FILENAME, device="cpu", check_args=None):
    """The trained VAE in `save_dir` (eval mode) and its specs."""
    specs = load_specs(save_dir, check_args)
    try:
        model = build_model(specs.get("model_type", "Burgess"), specs["img_size"], specs["latent_dim"])
    except ValueError as err:
        raise CLIError(f"{save_dir}/{SPECS_FILENAME} does not describe a model ({err})") from None
    state = load_state(os.path.join(save_dir, filename))
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CLIError(f"{save_dir}/{filename} does not match the model in specs.json "
                       f"({str(err).splitlines()[0]})") from None
    return model.to(device).eval(), specs
