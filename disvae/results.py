"""The results folder of a run, results/<name>/: what may be written there, and one reader
for each file main.py writes.

Policy: a run never destroys earlier results. An existing folder is refused (continue it
with --resume, or --archive moves it aside); a folder with PRETRAINED.md holds a model
shipped with disvae and is never trained over (a run of its experiment writes
my_<experiment> instead); results/.<name>.lock keeps two runs from sharing a folder.

Readers: `read_specs` (specs.json, validated, older formats migrated, parameters added
since filled with their defaults: the only reader of specs.json), `read_train_steps`
(train_steps.csv), `read_train_losses` (train_losses.log), `read_metrics`
(metrics.log), `read_metric_curve` (metrics_curve.csv), `read_checkpoint_pointer` (checkpoint.json). Nothing read from a results
folder can run code: values are checked before use (see also modelio.py).
"""
import contextlib
import csv
import datetime
import json
import math
import os
import platform
import re

from disvae import __version__
from disvae.config import NOT_SAVED, check_run_parameters
from disvae.datasets import DATASETS, get_dataset
from disvae.errors import DisvaeError
from disvae.io import atomic_write_json, atomic_write_text
from disvae.losses import LOSSES
from disvae.models import MODELS

# where main.py and main_viz.py keep runs: $DISVAE_RESULTS, else the toolkit's results/
RESULTS_DIR = os.environ.get("DISVAE_RESULTS") or \
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")
SHIPPED_MARK = "PRETRAINED.md"  # in the results folders shipped with the toolkit
REFERENCE_TOOLKIT = "YannDubs/disentangling-vae"  # whose results folders can be imported (reference.py)
MODEL_FILENAME = "model.pt"
SPECS_FILENAME = "specs.json"
POINTER_FILENAME = "checkpoint.json"
STEP_LOG = "train_steps.csv"
STEP_COLUMNS = ["step", "epoch", "wall_time_s"]
TRAIN_LOG = "train_losses.log"
METRICS_FILE = "metrics.log"
CURVE_FILE = "metrics_curve.csv"
CURVE_COLUMNS = ["epoch", "step", "wall_time_s"]
CHECKPOINT_NAME = re.compile(r"model-(\d+|step\d+)\.pt")
STATUSES = ("running", "interrupted", "done")
# 2: the format is recorded; --bf16 is --precision bf16 (format 1 saved both)
SPECS_FORMAT = 2


def run_dir(name):
    return os.path.join(RESULTS_DIR, name)


def is_shipped(save_dir):
    """A results folder shipped with disvae (a pretrained model): never trained over."""
    return os.path.exists(os.path.join(save_dir, SHIPPED_MARK))


def name_run(params):
    """params.name, defaulting to the experiment (or <loss>_<dataset> for custom runs);
    beside a shipped model of that name a new run is my_<name>, and params.shipped_note
    says so."""
    params.shipped_note = None
    if params.name is None:
        params.name = params.experiment if params.experiment != "custom" else f"{params.loss}_{params.dataset}"
        fresh_run = not (params.resume or params.is_eval_only or params.archive)
        if fresh_run and is_shipped(run_dir(params.name)):
            params.shipped_note = (f"results/{params.name} holds the pretrained model shipped with disvae; "
                                   f"this run writes results/my_{params.name}")
            params.name = f"my_{params.name}"
    return params


def check_results_dir(params, save_dir):
    """Refuse to overwrite earlier results (every process checks, so none waits on a refusal)."""
    if params.resume or params.is_eval_only or params.archive:
        return
    if is_shipped(save_dir):
        raise DisvaeError(f"{save_dir} holds the pretrained model shipped with disvae (see its {SHIPPED_MARK}); "
                          f"train your own under another name, e.g. `python main.py my_{params.name} ...`")
    if os.path.exists(save_dir) and os.listdir(save_dir):
        raise DisvaeError(f"{save_dir} already exists; continue it with `python main.py {params.name} --resume`, "
                          "choose another name, or pass --archive to move it aside")


def prepare_results_dir(params, save_dir, logger):
    """Create results/<name>/, first moving an existing one aside with --archive."""
    if params.resume or params.is_eval_only:
        return
    if params.archive and os.path.exists(save_dir) and os.listdir(save_dir):
        archived = f"{save_dir}.{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"
        os.replace(save_dir, archived)
        logger.info("moved the existing %s to %s", save_dir, archived)
    os.makedirs(save_dir, exist_ok=True)


@contextlib.contextmanager
def run_lock(save_dir):
    """Hold an exclusive lock on results/.<name>.lock for the duration; a one-line error if
    another process holds it (the lock dies with its process, so a crash never leaves it held)."""
    import fcntl
    path = os.path.join(os.path.dirname(save_dir), f".{os.path.basename(save_dir)}.lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise DisvaeError(f"{save_dir} is in use by {holder}; wait for it to finish (two runs must not share "
                              "a results folder)") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ----------------------------------------------------------------- specs.json

def read_json(path, what):
    """A JSON object from `path`, or a one-line DisvaeError."""
    try:
        with open(path) as f:
            value = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DisvaeError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise DisvaeError(f"{path} is not a {what} (expected a JSON object, got {type(value).__name__})")
    return value


def _check(condition, path, message):
    if not condition:
        raise DisvaeError(f"{path}: {message}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_reference_specs(specs):
    """specs.json of the reference toolkit: the flat object of its arguments (no 'args')."""
    return "args" not in specs and "loss" in specs and "latent_dim" in specs


def import_hint(folder):
    """The one line telling a user how to import a results folder of the reference toolkit."""
    name = os.path.basename(os.path.normpath(folder))
    return (f"{folder} is a results folder of the reference toolkit ({REFERENCE_TOOLKIT}); import it first with "
            f"`python bin/import_reference.py {folder} {name}_imported` and use the imported folder")


def migrate_specs(specs, path):
    """specs.json of an older format, in the current one."""
    version = specs.get("format", 1)
    _check(_is_int(version) and 1 <= version <= SPECS_FORMAT, path,
           f"unknown format {version!r} (this disvae reads formats 1 to {SPECS_FORMAT}; a newer disvae wrote it?)")
    if version == 1 and isinstance(specs.get("args"), dict):
        args = specs["args"]
        if args.pop("bf16", False) is True:
            args["precision"] = "bf16"
    specs.setdefault("dataset_version", 1)  # every dataset's first rendering
    specs["format"] = SPECS_FORMAT
    return specs


def validate_specs(specs, path):
    """Raise a one-line DisvaeError unless `specs` has the layout main.py writes."""
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
    for key in ("global_step", "n_data", "dataset_version"):
        _check(specs.get(key) is None or (_is_int(specs[key]) and specs[key] >= 0), path,
               f"'{key}' must be a non-negative integer, got {specs.get(key)!r}")
    args = specs["args"]
    for key in ("loss", "dataset"):
        _check(args.get(key, specs[key]) == specs[key], path, f"args.{key} {args.get(key)!r} != {key} {specs[key]!r}")


def read_specs(save_dir):
    """specs.json of a results folder: validated, migrated to the current format, and its
    run parameters checked by their options' rules and completed with the defaults of
    parameters added since (`specs["args"]`, a dict of every parameter)."""
    path = os.path.join(save_dir, SPECS_FILENAME)
    if not os.path.isdir(save_dir):
        raise DisvaeError(f"no results folder {save_dir}; train it first with `python main.py NAME ...`")
    if not os.path.exists(path):
        raise DisvaeError(f"{path} is missing: {save_dir} is not a results folder of main.py")
    specs = read_json(path, "specs.json")
    if is_reference_specs(specs):
        raise DisvaeError(import_hint(save_dir))
    specs = migrate_specs(specs, path)
    validate_specs(specs, path)
    specs["args"].update(loss=specs["loss"], dataset=specs["dataset"])
    specs["args"] = check_run_parameters(specs["args"], path)
    return specs


def specs_of(params, dataset, n_steps_done=None, status="running"):
    """What specs.json records of a run: every parameter, the data and model, its progress."""
    import torch
    return {"format": SPECS_FORMAT, "args": {k: v for k, v in vars(params).items() if k not in NOT_SAVED},
            "dataset": params.dataset, "dataset_version": dataset.version,
            "img_size": list(dataset.img_size), "latent_dim": params.latent_dim,
            "model_type": params.model_type, "loss": params.loss, "n_data": len(dataset),
            "status": status, "global_step": n_steps_done,
            "versions": {"disvae": __version__, "torch": torch.__version__, "python": platform.python_version()}}


def rendering_note(specs):
    """None when the run's images are the ones its dataset renders now; else the one line
    that says they are not (a model trained on an older rendering of the dataset)."""
    trained, current = specs.get("dataset_version", 1), get_dataset(specs["dataset"]).version
    if trained == current:
        return None
    return (f"this model was trained on version {trained} of the {specs['dataset']} rendering; disvae now renders "
            f"version {current}, so its images differ from the ones it learned and its numbers are not comparable "
            "with models trained on the current rendering")


def check_same_rendering(specs, save_dir):
    """Refuse to continue training a run on another rendering than the one it started on."""
    note = rendering_note(specs)
    if note is not None:
        raise DisvaeError(f"{save_dir} cannot be resumed: {note}")


def write_specs(save_dir, specs):
    atomic_write_json(os.path.join(save_dir, SPECS_FILENAME), specs)


# ----------------------------------------------------------------- checkpoints

def read_checkpoint_pointer(save_dir):
    """Filename of the newest checkpoint in `save_dir` (from checkpoint.json), or None."""
    path = os.path.join(save_dir, POINTER_FILENAME)
    if not os.path.exists(path):
        return None
    latest = read_json(path, "checkpoint pointer").get("latest")
    if not isinstance(latest, str) or not CHECKPOINT_NAME.fullmatch(latest):
        raise DisvaeError(f"{path}: 'latest' must name a checkpoint file such as model-step100.pt, got {latest!r}")
    return latest if os.path.exists(os.path.join(save_dir, latest)) else None


def write_checkpoint_pointer(save_dir, filename, epoch, global_step):
    atomic_write_json(os.path.join(save_dir, POINTER_FILENAME),
                      {"latest": filename, "epoch": epoch, "global_step": global_step})


# ----------------------------------------------------------------- logs

def read_train_steps(save_dir, last_step=math.inf):
    """Rows of train_steps.csv up to `last_step`: {"step": int, "epoch", "wall_time_s",
    every logged term: float} ([] when the file is absent; a last row without its line
    end, cut short while it was appended, is left out)."""
    path = os.path.join(save_dir, STEP_LOG)
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as f:
            lines = f.read().splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):  # a row cut short by a crash while it was appended
            lines.pop()
        rows = [{k: int(float(v)) if k == "step" else float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(lines)]
    except (ValueError, TypeError, KeyError, csv.Error, UnicodeDecodeError) as err:
        raise DisvaeError(f"{path} is not a train_steps.csv ({err})") from None
    if any("step" not in row for row in rows):
        raise DisvaeError(f"{path} is not a train_steps.csv (a row without a step)")
    return [row for row in rows if row["step"] <= last_step]


def read_train_losses(save_dir):
    """Rows (epoch, loss name, value) of train_losses.log (CSV `Epoch,Loss,Value`; [] when absent)."""
    path = os.path.join(save_dir, TRAIN_LOG)
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as f:
            return [(int(row["Epoch"]), row["Loss"], float(row["Value"])) for row in csv.DictReader(f)]
    except (KeyError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as err:
        raise DisvaeError(f"{path} is not a train_losses.log ({err})") from None


def read_metrics(save_dir):
    """metrics.log as a dict ({} when absent)."""
    path = os.path.join(save_dir, METRICS_FILE)
    return read_json(path, "metrics.log") if os.path.exists(path) else {}


def read_metric_curve(save_dir):
    """Rows of metrics_curve.csv (--metrics-every): {"epoch": int, "step": int, "wall_time_s",
    every scalar metric: float}, by epoch ([] when absent)."""
    path = os.path.join(save_dir, CURVE_FILE)
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as f:
            rows = [{k: int(float(v)) if k in ("epoch", "step") else float(v) for k, v in row.items()
                     if v not in ("", None)} for row in csv.DictReader(f)]
    except (ValueError, TypeError, csv.Error, UnicodeDecodeError) as err:
        raise DisvaeError(f"{path} is not a metrics_curve.csv ({err})") from None
    if any("epoch" not in row or "step" not in row for row in rows):
        raise DisvaeError(f"{path} is not a metrics_curve.csv (a row without its epoch or step)")
    return sorted(rows, key=lambda row: row["epoch"])


def write_metric_curve_row(save_dir, row):
    """Add `row` to metrics_curve.csv, replacing the rows of its epoch and later ones (a
    resumed run computes them again from the checkpoint's weights); rewritten atomically."""
    rows = [old for old in read_metric_curve(save_dir) if old["epoch"] < row["epoch"]] + [row]
    keys = CURVE_COLUMNS + sorted({key for r in rows for key in r} - set(CURVE_COLUMNS))
    lines = [",".join(keys)] + [",".join(_csv_value(r.get(key)) for key in keys) for r in rows]
    atomic_write_text(os.path.join(save_dir, CURVE_FILE), "\n".join(lines) + "\n")


def _csv_value(value):
    return "" if value is None else str(value) if isinstance(value, int) else repr(float(value))


def scalar_metrics(metrics):
    """The plain-number entries of a metrics.log (no per-factor tables, counts or seeds)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("n_encoded", "factor_vae_active_latents", "seed")}
