"""Results folders of the reference toolkit (YannDubs/disentangling-vae, MIT License),
converted into disvae results folders.

A reference folder holds `model.pt` (a state dict of its Burgess encoder/decoder),
`specs.json` (a flat object of its command-line arguments), `train_losses.log` (CSV
Epoch,Loss,Value with epochs from 0) and `test_losses.log` (from one batch). Its layers
map one to one onto disvae's Burgess model:

    encoder conv1, conv2, conv3, conv_64 (64x64 only)  -> encoder.convs.0 .. 3 (in that order)
    encoder lin1, lin2                                 -> encoder.lin1, lin2
    encoder mu_logvar_gen, rows interleaved            -> encoder.mu_logvar, means then log-variances
        (the reference reads its 2Z outputs as view(-1, Z, 2): row 2j is mean_j, 2j + 1 logvar_j)
    decoder lin1, lin2, lin3                           -> decoder.lin1, lin2, lin3
    decoder convT_64 (64x64 only), convT1, convT2, convT3 -> decoder.convs.0 .. 3
    (the reference's decoder ends in a sigmoid; disvae's returns the logits before it)

`import_reference` writes the converted model.pt, a specs.json of the current format (the
reference's arguments that disvae shares, the number of steps it trained, the dataset
version its images match, and where it came from), train_losses.log with epochs from 1,
and the reference's own files under reference/ for provenance. Every plot,
`--is-eval-only` and `--is-metrics` then read the folder as any other; nothing in it is
run (the model is read by the same restricted unpickler as every model).
"""
import argparse
import csv
import io
import math
import os
import shutil
import tempfile

import torch

from disvae.config import all_options, check_value
from disvae.datasets import get_dataset
from disvae.errors import DisvaeError
from disvae.io import UMASK, atomic_torch_save, atomic_write_json, atomic_write_text
from disvae.modelio import load_state
from disvae.models import build_model
from disvae.results import (MODEL_FILENAME, REFERENCE_TOOLKIT, SPECS_FILENAME, TRAIN_LOG, check_results_dir,
                            is_reference_specs, read_json, specs_of)

ENCODER_CONVS = ("conv1", "conv2", "conv3", "conv_64")
DECODER_CONVS = ("convT_64", "convT1", "convT2", "convT3")
LINEAR = ("encoder.lin1", "encoder.lin2", "decoder.lin1", "decoder.lin2", "decoder.lin3")
# the reference's argument names that mean something else here, or nothing
NOT_SHARED = {"name", "no_cuda", "is_eval_only", "is_metrics", "no_test", "log_level", "no_progress_bar",
              "img_size"}


def is_reference_folder(path):
    """A folder in the reference toolkit's format: model.pt and its flat specs.json."""
    specs = os.path.join(path, SPECS_FILENAME)
    if not (os.path.isfile(specs) and os.path.isfile(os.path.join(path, MODEL_FILENAME))):
        return False
    try:
        return is_reference_specs(read_json(specs, "specs.json"))
    except DisvaeError:
        return False


def layer_names(img_size):
    """{reference layer: disvae layer} of a Burgess model for `img_size`."""
    has_64 = img_size[1] == 64
    encoder_convs = ENCODER_CONVS if has_64 else ENCODER_CONVS[:3]
    decoder_convs = DECODER_CONVS if has_64 else DECODER_CONVS[1:]
    names = {f"encoder.{layer}": f"encoder.convs.{i}" for i, layer in enumerate(encoder_convs)}
    names.update({f"decoder.{layer}": f"decoder.convs.{i}" for i, layer in enumerate(decoder_convs)})
    names.update({layer: layer for layer in LINEAR})
    names["encoder.mu_logvar_gen"] = "encoder.mu_logvar"
    return names


def convert_state_dict(state, img_size, latent_dim):
    """The reference's state dict in disvae's layer names and output layout; KeyError or
    RuntimeError when it is not a reference Burgess model of that size."""
    names = layer_names(img_size)
    expected = {f"{layer}.{kind}" for layer in names for kind in ("weight", "bias")}
    if set(state) != expected:
        odd = sorted(set(state) ^ expected)
        raise KeyError(f"layer {odd[0]} {'unexpected' if odd[0] in state else 'missing'}")
    renamed = {f"{names[key.rsplit('.', 1)[0]]}.{key.rsplit('.', 1)[1]}": value for key, value in state.items()}
    for kind in ("weight", "bias"):
        rows = renamed[f"encoder.mu_logvar.{kind}"]  # (2Z, ...): mean_0, logvar_0, mean_1, ...
        renamed[f"encoder.mu_logvar.{kind}"] = torch.cat([rows[0::2], rows[1::2]])  # means, then logvars
    model = build_model("Burgess", img_size, latent_dim)
    model.load_state_dict(renamed)  # checks every shape
    return model.state_dict()


def shared_arguments(reference_specs):
    """The reference's arguments that disvae has too, checked by disvae's options (values
    an option refuses are left at disvae's default and listed)."""
    options, args, skipped = all_options(), {}, []
    for key, value in reference_specs.items():
        if key in NOT_SHARED or key not in options:
            continue
        try:
            args[key] = check_value(options[key], value, "reference specs.json", label=key)
        except (ValueError, DisvaeError):
            skipped.append(key)
    return args, skipped


def reference_losses(path):
    """Rows of the reference's train_losses.log with epochs counted from 1, as disvae does."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as f:
            return [(int(row["Epoch"]) + 1, row["Loss"], float(row["Value"])) for row in csv.DictReader(f)]
    except (KeyError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as err:
        raise DisvaeError(f"{path} is not a train_losses.log of the reference toolkit ({err})") from None


def import_reference(source, save_dir, logger=None, license_path=None):
    """Convert the reference results folder `source` into the disvae results folder
    `save_dir` (which must not exist or be empty), copying the reference's licence from
    `license_path` (when given) into reference/LICENSE. Writes nothing unless every check
    passes; the folder appears whole (built beside it, then renamed)."""
    if not os.path.isdir(source):
        raise DisvaeError(f"no folder {source}")
    if not is_reference_folder(source):
        raise DisvaeError(f"{source} is not a results folder of the reference toolkit ({REFERENCE_TOOLKIT}): it needs "
                          "model.pt and a specs.json of its arguments (a flat object with 'loss' and 'latent_dim')")
    if license_path is not None and not os.path.isfile(license_path):
        raise DisvaeError(f"no licence file {license_path}")
    reference_specs = read_json(os.path.join(source, SPECS_FILENAME), "specs.json")
    check_results_dir(argparse.Namespace(resume=False, is_eval_only=False, archive=False,
                                         name=os.path.basename(save_dir)), save_dir)
    img_size = reference_specs.get("img_size")
    latent_dim = reference_specs.get("latent_dim")
    if reference_specs.get("model_type", "Burgess") != "Burgess" or not (
            isinstance(img_size, list) and len(img_size) == 3 and isinstance(latent_dim, int) and latent_dim > 0):
        raise DisvaeError(f"{source}/{SPECS_FILENAME}: only Burgess models with an img_size and latent_dim can be "
                          f"imported (got model_type {reference_specs.get('model_type')!r}, img_size {img_size!r})")
    state = load_state(os.path.join(source, MODEL_FILENAME))
    if not isinstance(state, dict):
        raise DisvaeError(f"{source}/{MODEL_FILENAME} is not a state dict")
    try:
        converted = convert_state_dict(state, img_size, latent_dim)
    except (KeyError, RuntimeError) as err:
        raise DisvaeError(f"{source}/{MODEL_FILENAME} is not a reference Burgess model for img_size {img_size} and "
                          f"{latent_dim} latents ({str(err).splitlines()[0]})") from None

    args, skipped = shared_arguments(reference_specs)
    params = argparse.Namespace(**{**_defaults(), **args, "name": os.path.basename(save_dir), "experiment": "custom",
                                   "model_type": "Burgess", "latent_dim": latent_dim})
    dataset_cls = get_dataset(params.dataset)
    n_data = math.prod(dataset_cls.lat_sizes) if dataset_cls.has_factors else None  # unknown without its files
    steps = None
    if n_data and "epochs" in args and "batch_size" in args:
        steps = args["epochs"] * math.ceil(n_data / args["batch_size"])

    facts = _DatasetFacts(tuple(img_size), n_data or 0, getattr(dataset_cls, "version", 1))
    specs = specs_of(params, facts, n_steps_done=steps, status="done")
    specs["imported_from"] = {"toolkit": REFERENCE_TOOLKIT, "license": "MIT", "arguments": reference_specs,
                              "arguments_not_shared": skipped, "trained_on": "the official dSprites file"
                              if params.dataset == "dsprites" else f"the reference's {params.dataset}"}

    parent = os.path.dirname(os.path.abspath(save_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(save_dir)}.import.")
    try:
        os.chmod(staging, 0o777 & ~UMASK)  # mkdtemp makes it private; a results folder is not
        atomic_torch_save(converted, os.path.join(staging, MODEL_FILENAME))
        atomic_write_json(os.path.join(staging, SPECS_FILENAME), specs)
        rows = reference_losses(os.path.join(source, TRAIN_LOG))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Epoch", "Loss", "Value"])
        writer.writerows(rows)
        atomic_write_text(os.path.join(staging, TRAIN_LOG), out.getvalue())
        os.makedirs(os.path.join(staging, "reference"))
        for filename in sorted(os.listdir(source)):
            if filename != MODEL_FILENAME and os.path.isfile(os.path.join(source, filename)):
                shutil.copyfile(os.path.join(source, filename), os.path.join(staging, "reference", filename))
        if license_path is not None:
            shutil.copyfile(license_path, os.path.join(staging, "reference", "LICENSE"))
        if os.path.isdir(save_dir):
            os.rmdir(save_dir)  # empty: check_results_dir refused a non-empty one
        os.replace(staging, save_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if logger is not None:
        logger.info("imported %s into %s (%s on %s, %s steps)", source, save_dir, params.loss, params.dataset, steps)
    return specs


class _DatasetFacts:
    """What specs.json records of a dataset, for a run that was not trained here."""

    def __init__(self, img_size, n_data, version):
        self.img_size, self.n_data, self.version = img_size, n_data, version

    def __len__(self):
        return self.n_data


def _defaults():
    return {name: option.default for name, option in all_options().items()}
