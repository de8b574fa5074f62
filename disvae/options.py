"""Option declarations. Every parameter of a run is declared once, next to the code that
uses it: the general, training, model and evaluation options here, each loss's options
in its file (`Loss.options`), each dataset's in its class (`Dataset.options`). Everything
else is generated from these declarations: the command line's option groups
(utils/cli.py), the defaults, and the checks of hyperparam.ini values and of the
parameters in a specs.json (`check_value`, one validator for both).

A value parser takes the text typed on the command line (or a value from
hyperparam.ini / specs.json) and returns the value, raising ValueError with a short
reason when it is not acceptable.
"""
import re
from dataclasses import dataclass, field

from disvae.pixels import REC_DISTS

# ----------------------------------------------------------------- value parsers


def ranged(kind, low, high=None, include_low=True, expected="a number"):
    """Parser of `kind(value)` within [low, high] (or (low, high] without include_low)."""
    def parse(value):
        try:
            number = kind(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not (number >= low if include_low else number > low) or \
                (high is not None and number > high):
            raise ValueError(f"expected {expected}, got {value!r}")
        return number
    parse.__name__ = kind.__name__
    return parse


def positive(kind):
    return ranged(kind, 0, include_low=False, expected=f"a positive {kind.__name__}")


def non_negative(kind):
    return ranged(kind, 0, expected="a number >= 0")


unit_interval = ranged(float, 0, 1, expected="a number in [0, 1]")


def seed_type(value):
    """An integer, or None for stochastic behaviour."""
    if value is None or str(value).lower() == "none":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"seed must be an integer or None, got {value!r}") from None


DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def device_spec(value):
    """auto, cpu, cuda or cuda:N."""
    if not isinstance(value, str) or not DEVICE.fullmatch(value):
        raise ValueError(f"a device is auto, cpu, cuda or cuda:N, got {value!r}")
    return value


RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def run_name(value):
    """A results folder name: letters, digits and `_ . + -`, no path separators."""
    if not isinstance(value, str) or not RUN_NAME.fullmatch(value) or len(value) > 200:
        raise ValueError(f"a run name is letters, digits and _ . + - (no '/' or leading '.'), got {value!r}")
    return value


# ----------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Option:
    """One parameter of a run.

    name     the parameter (argparse dest, specs.json key, hyperparam.ini key unless ini_key)
    default  its value when neither hyperparam.ini nor the command line gives one
    help     one sentence for `-h`
    parse    value parser (None: any string); choices: the allowed values
    kind     "value", "flag" (true when typed), "list" (one or more values), "positional"
    flags    command-line spellings (default: --name with - for _)
    aliases  extra flags that set this option to a fixed value ({"--bf16": "bf16"})
    ini_key  the name hyperparam.ini uses, when it differs (the reference's `model`)
    in_ini   False for what only a command line says (the run's name, --resume, --archive)
    """
    name: str
    default: object
    help: str
    parse: object = None
    choices: tuple = None
    kind: str = "value"
    flags: tuple = ()
    aliases: dict = field(default_factory=dict, hash=False)
    ini_key: str = None
    in_ini: bool = True

    @property
    def cli_flags(self):
        return self.flags or ("--" + self.name.replace("_", "-"),)

    @property
    def flag(self):
        return self.cli_flags[-1] if self.kind != "positional" else self.name.upper()


def check_value(option, value, where, label=None):
    """The value of `option` given by a file (`where`: hyperparam.ini, a specs.json),
    checked and converted by the same rules as the typed flag; raises ValueError with one line
    naming it `label` (default: the option's name)."""
    label = label or option.name
    if option.kind == "flag":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {label} must be true or false, got {value!r}")
        return value
    if value is None:
        if option.default is None or option.parse is seed_type:
            return None
        raise ValueError(f"{where}: {label} = None is not a valid value")
    values = value if option.kind == "list" and isinstance(value, list) else [value]
    converted = []
    for item in values:
        if isinstance(item, bool) or (option.parse is None and not isinstance(item, str)) \
                or not isinstance(item, (int, float, str)):
            raise ValueError(f"{where}: {label} = {value!r} is not a valid value")
        try:
            parsed = option.parse(str(item)) if option.parse else item
        except ValueError as err:
            raise ValueError(f"{where}: {label} = {value!r} is not valid ({err})") from None
        if option.choices is not None and parsed not in option.choices:
            raise ValueError(f"{where}: {label} = {value!r} is not one of "
                             f"{', '.join(map(str, option.choices))}")
        converted.append(parsed)
    return converted if option.kind == "list" else converted[0]


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")
PRECISIONS = ("auto", "fp32", "bf16")

GENERAL = ("General options", (
    Option("name", None, "Name of the results folder results/<name>/ (default: the experiment name, or "
           "<loss>_<dataset> for custom runs).", run_name, kind="positional", in_ini=False),
    Option("log_level", "INFO", "Logging level.", str.upper, LOG_LEVELS, flags=("-L", "--log-level")),
    Option("no_progress_bar", False, "Disables the progress bar.", kind="flag"),
    Option("no_cuda", False, "Disables CUDA training, even when a GPU is available.", kind="flag"),
    Option("device", "auto", "Where to compute: auto (the first visible GPU, else the CPU), cpu, cuda or cuda:N. "
           "CUDA_VISIBLE_DEVICES chooses the visible GPUs; under torchrun each process takes the GPU of its "
           "LOCAL_RANK.", device_spec),
    Option("deterministic", False, "Bit-exact GPU runs: deterministic algorithms, no TF32, no cuDNN autotuning "
           "(slower). CPU runs are bit-exact without it.", kind="flag"),
    Option("compile", False, "Compile the model with torch.compile (faster steps after a compilation of a minute "
           "or more; bit-exact resume is promised only without it).", kind="flag"),
    Option("threads", None, "CPU threads of PyTorch (default: $OMP_NUM_THREADS, else the cores this process "
           "may use; bin/*.sh -j N gives each job its share).", positive(int)),
    Option("seed", 1234, "Random seed. Can be `None` for stochastic behaviour.", seed_type, flags=("-s", "--seed")),
))

TRAINING = ("Training specific options", (
    Option("checkpoint_every", 30, "Save a checkpoint of the trained model every n epochs (0: never).",
           non_negative(int)),
    Option("checkpoint_steps", 0, "Also save a resumable checkpoint every n optimiser steps (0: never).",
           non_negative(int)),
    Option("checkpoint_minutes", 10.0, "Also save a resumable checkpoint every m minutes of training (0: never); "
           "the end of training and SIGINT/SIGTERM always save one.", non_negative(float)),
    Option("dataset", "mnist", "Training dataset.", flags=("-d", "--dataset")),  # choices: the dataset registry
    Option("data_root", None, "Folder of the dataset's files (default: data/<dataset>/)."),
    Option("experiment", "custom", "Predefined experiment of hyperparam.ini; sets the other arguments unless "
           "they are typed.", flags=("-x", "--experiment")),  # choices: the ini's experiments
    Option("epochs", 100, "Maximum number of epochs to run for.", positive(int), flags=("-e", "--epochs")),
    Option("max_steps", None, "Stop after this many optimiser steps.", positive(int)),
    Option("max_minutes", None, "Stop training after this many minutes of wall time (per invocation).",
           positive(float)),
    Option("batch_size", 64, "Batch size for training.", positive(int), flags=("-b", "--batch-size")),
    Option("lr", 5e-4, "Learning rate.", positive(float)),
    Option("log_every", 100, "Write a row of train_steps.csv (mean of every logged term) every n steps (0: never).",
           non_negative(int)),
    Option("tensorboard", False, "Also log train_steps.csv's terms and each epoch's traversal frame to TensorBoard "
           "(results/<name>/tensorboard/; needs pip install tensorboard).", kind="flag"),
    Option("resume", False, "Continue results/<name>/ from its newest checkpoint with its specs.json.",
           kind="flag", in_ini=False),
    Option("archive", False, "If results/<name>/ exists, move it to results/<name>.<time>/ first.",
           kind="flag", in_ini=False),
    Option("precision", "fp32", "Training arithmetic: fp32, bf16 (bfloat16 autocast: faster on CPUs with "
           "AVX-512 BF16/AMX and on GPUs), or auto (bf16 where it is native, else fp32). Evaluation and metrics "
           "are always float32. --bf16 is --precision bf16.", choices=PRECISIONS, aliases={"--bf16": "bf16"}),
))

MODEL = ("Model specific options", (
    Option("model_type", "Burgess", "Type of encoder and decoder to use: Burgess (convolutional), Higgins "
           "(fully connected, ReLU) or Chen (Higgins' layers with a tanh decoder and PyTorch's default init, "
           "as Chen et al. 2018).", flags=("-m", "--model-type"),
           ini_key="model"),  # choices: the model registry
    Option("latent_dim", 10, "Dimension of the latent variable.", positive(int), flags=("-z", "--latent-dim")),
    Option("loss", "betaB", "Type of VAE loss function to use.", flags=("-l", "--loss")),  # choices: the losses
    Option("rec_dist", "bernoulli", "Form of the likelihood to use for each pixel.",
           choices=REC_DISTS, flags=("-r", "--rec-dist")),
    Option("reg_anneal", 10000, "Number of annealing steps where gradually adding the regularisation. What is "
           "annealed is specific to each loss.", non_negative(int), flags=("-a", "--reg-anneal")),
))

EVALUATION = ("Evaluation specific options", (
    Option("is_eval_only", False, "Only evaluate the trained model `name`.", kind="flag"),
    Option("is_metrics", False, "Compute the disentanglement metrics (ground-truth datasets only).", kind="flag"),
    Option("metrics", None, "Subset of metrics (default: all).", kind="list"),  # choices: the metric families
    Option("metrics_every", 0, "Also compute the --metrics families every n epochs of training, one row each "
           "in metrics_curve.csv (ground-truth datasets; 0: never). Their time counts in --max-minutes.",
           non_negative(int)),
    Option("metrics_samples", None, "Cap every metric at about this many points (default: the standard counts, "
           "e.g. 10,000); for quick checks.", positive(int)),
    Option("recompute_metrics", False, "Recompute metric families already in metrics.log for the same weights "
           "and sample counts (default: keep them, so an interrupted evaluation resumes).", kind="flag"),
    Option("no_test", False, "Do not compute the test losses.", kind="flag"),
    Option("eval_batchsize", 1000, "Batch size for evaluation.", positive(int)),
))
