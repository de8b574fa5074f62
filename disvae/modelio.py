"""Loading trained models and checkpoints, safely.

Nothing read from a results folder can run code:
- every `.pt` file is read with `torch.load(weights_only=True)`, PyTorch's restricted
  unpickler, which rebuilds tensors, numbers, strings and plain containers and refuses
  any other Python object. A file that asks for one (a pickled `__reduce__` payload,
  say) is refused with one line before anything in it runs; the checkpoints main.py
  writes hold nothing else (training.gif frames are PNG bytes in uint8 tensors);
- `specs.json` and `checkpoint.json` are validated by their readers in results.py
  (types, known keys, known loss, dataset and model names, plain file names) before
  any value is used.
"""
import os
import pickle
import zipfile

import torch

from disvae.errors import DisvaeError
from disvae.frames import compress_frame
from disvae.models import build_model
from disvae.results import MODEL_FILENAME, SPECS_FILENAME, read_specs

# PyTorch's legacy (pre-1.6) format opens with pickle protocol 2 and this long integer
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

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
    DisvaeError for missing, corrupt or code-carrying files (nothing in them is run)."""
    if not os.path.exists(path):
        raise DisvaeError(f"no {what} at {path}; train it first (or wait for training to finish)")
    if not zipfile.is_zipfile(path):
        if _is_legacy_torch_file(path):
            return _load_legacy(path, what)
        raise DisvaeError(f"{path} is not a {what} file written by main.py (not a PyTorch zip archive: truncated, "
                       "foreign, or a raw pickle that may contain code); it was not loaded")
    unsafe = _unsafe_globals(path) or []
    legacy = _legacy_frame_globals()
    refused = [name for name in unsafe if name not in legacy]
    if refused:
        raise DisvaeError(f"{path} asks for Python objects the safe loader refuses ({', '.join(refused[:3])}); "
                       "it may contain code and was not loaded")
    try:
        with torch.serialization.safe_globals(list(legacy.values()) if unsafe else []):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, garbage records: all mean "corrupt"
        raise DisvaeError(f"{path} is not a readable {what} file ({type(err).__name__}); "
                       "it may be truncated or not produced by main.py") from None


def _is_legacy_torch_file(path):
    """PyTorch's format before 1.6 (the reference toolkit's model.pt): a pickled magic number first."""
    with open(path, "rb") as f:
        return f.read(len(LEGACY_MAGIC)) == LEGACY_MAGIC


def _load_legacy(path, what):
    """A legacy-format file through the same restricted unpickler: it rebuilds tensors and
    plain containers only, and refuses (before running anything) a file that asks for more."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" in str(err).lower():
            raise DisvaeError(f"{path} asks for Python objects the safe loader refuses; it may contain code and was "
                              "not loaded") from None
        raise DisvaeError(f"{path} is not a readable {what} file (UnpicklingError); it may be truncated") from None
    except Exception as err:  # truncated records
        raise DisvaeError(f"{path} is not a readable {what} file ({type(err).__name__}); it may be truncated") from None


def load_checkpoint(path):
    """A resumable training checkpoint; training.gif frames of disvae 0.1.0 checkpoints
    (numpy arrays) are converted to the PNG tensors written now."""
    state = load_state(path, "checkpoint")
    if not isinstance(state, dict) or not {"model", "optimizer", "loss", "loader", "global_step"} <= set(state):
        raise DisvaeError(f"{path} is not a resumable checkpoint of main.py")
    state["frames"] = [compress_frame(frame) for frame in state.get("frames", [])]
    return state


def load_model(save_dir, filename=MODEL_FILENAME, device="cpu"):
    """The trained VAE in `save_dir` (eval mode) and its specs (results.read_specs)."""
    specs = read_specs(save_dir)
    try:
        model = build_model(specs.get("model_type", "Burgess"), specs["img_size"], specs["latent_dim"])
    except ValueError as err:
        raise DisvaeError(f"{save_dir}/{SPECS_FILENAME} does not describe a model ({err})") from None
    state = load_state(os.path.join(save_dir, filename))
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise DisvaeError(f"{save_dir}/{filename} does not match the model in specs.json "
                       f"({str(err).splitlines()[0]})") from None
    return model.to(device).eval(), specs
