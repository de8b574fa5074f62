"""Loading and saving trained models with their specs, with one-line errors for
missing, truncated or foreign files."""
import json
import os

import torch

from disvae.models import MODELS, build_model
from utils.cli import CLIError
from utils.io import atomic_write_json

MODEL_FILENAME = "model.pt"
SPECS_FILENAME = "specs.json"


def load_specs(save_dir):
    path = os.path.join(save_dir, SPECS_FILENAME)
    if not os.path.isdir(save_dir):
        raise CLIError(f"no results folder {save_dir}; train it first with `python main.py NAME ...`")
    if not os.path.exists(path):
        raise CLIError(f"{path} is missing: {save_dir} is not a results folder of main.py")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CLIError(f"{path} is not valid JSON ({err})") from None


def save_specs(save_dir, specs):
    atomic_write_json(os.path.join(save_dir, SPECS_FILENAME), specs)


def load_state(path, what="model"):
    """torch.load with a one-line error for missing or corrupt files."""
    if not os.path.exists(path):
        raise CLIError(f"no {what} at {path}; train it first (or wait for training to finish)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated zip, pickle garbage, foreign format: all mean "corrupt"
        raise CLIError(f"{path} is not a readable {what} file ({type(err).__name__}); "
                       "it may be truncated or not produced by main.py") from None


def load_model(save_dir, filename=MODEL_FILENAME, device="cpu"):
    """The trained VAE in `save_dir` (eval mode) and its specs."""
    specs = load_specs(save_dir)
    try:
        model = build_model(specs.get("model_type", "Burgess"), specs["img_size"], specs["latent_dim"])
    except (KeyError, ValueError) as err:
        raise CLIError(f"{save_dir}/{SPECS_FILENAME} does not describe a model ({err}); "
                       f"known model types: {', '.join(MODELS)}") from None
    state = load_state(os.path.join(save_dir, filename))
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CLIError(f"{save_dir}/{filename} does not match the model in specs.json "
                       f"({str(err).splitlines()[0]})") from None
    return model.to(device).eval(), specs
