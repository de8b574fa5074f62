"""A run's parameters: the declared options (disvae/options.py, each loss's and each
dataset's), hyperparam.ini's predefined experiments, and the flags typed on the command
line, merged and checked in one place.

Precedence (later wins): each option's declared default < [Custom] < [Common_<dataset>]
< [Common_<loss>] < [<experiment>] < flags typed on the command line. Common sections
apply to experiments named `<loss>_<dataset>` (both names may contain `_`); other
sections (best_celeba, debug, ...) are self-contained and may pull values from others
with ${Section:key}. Values are Python literals. The same validator (options.check_value)
checks hyperparam.ini's values and the parameters read back from a specs.json.
"""
import argparse
import ast
import configparser
import dataclasses
import os

from disvae.datasets import DATASETS
from disvae.errors import ConfigError, DisvaeError
from disvae.losses import LOSSES
from disvae.metrics import METRICS
from disvae.models import MODELS
from disvae.options import EVALUATION, GENERAL, MODEL, TRAINING, check_value

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hyperparam.ini")
NOT_SAVED = ("typed", "shipped_note")  # notes of the command line, not run parameters


# ----------------------------------------------------------------- hyperparam.ini

def read_config(path=None):
    path = path or CONFIG_FILE
    parser = configparser.ConfigParser(interpolation=configparser.ExtendedInterpolation())
    parser.optionxform = str  # keys are case-sensitive (betaH_B)
    try:
        if not parser.read(path):
            raise ConfigError(f"cannot read {path}")
    except configparser.Error as err:
        raise ConfigError(f"malformed {path}: {' '.join(str(err).split())}") from None
    return parser


def get_section(parser, section):
    """The section's values as Python objects (literals such as 'mnist', 5e-4, False)."""
    if not parser.has_section(section):
        raise ConfigError(f"no section [{section}] in hyperparam.ini")
    values = {}
    try:
        for key, raw in parser.items(section):
            try:
                values[key] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                raise ConfigError(f"hyperparam.ini [{section}] {key} = {raw!r} is not a Python literal "
                                  "(quote strings, e.g. 'mnist')") from None
    except configparser.Error as err:
        raise ConfigError(f"hyperparam.ini [{section}]: {' '.join(str(err).split())}") from None
    return values


def split_experiment(name, losses, datasets):
    """`<loss>_<dataset>` -> (loss, dataset), or None for other experiment names; loss and
    dataset names may both contain `_` (the longest loss name that fits is taken)."""
    for loss in sorted(losses, key=len, reverse=True):
        if name.startswith(loss + "_") and name[len(loss) + 1:] in datasets:
            return loss, name[len(loss) + 1:]
    return None


def experiment_names(parser, losses, datasets):
    """Every experiment: custom, the ini's own sections, and every <loss>_<dataset>."""
    names = ["custom"]
    names += [s for s in parser.sections() if s != "Custom" and not s.startswith("Common_")]
    names += [f"{loss}_{data}" for loss in losses for data in datasets if f"{loss}_{data}" not in names]
    return names


def experiment_values(parser, experiment, losses, datasets):
    """hyperparam.ini's values of `experiment` (ini keys), merged in precedence order."""
    values = get_section(parser, "Custom") if parser.has_section("Custom") else {}
    if experiment == "custom":
        return values
    split = split_experiment(experiment, losses, datasets)
    if split is not None:
        loss, dataset = split
        for section in (f"Common_{dataset}", f"Common_{loss}"):
            if parser.has_section(section):
                values.update(get_section(parser, section))
        values.update(loss=loss, dataset=dataset)
    if parser.has_section(experiment):
        values.update(get_section(parser, experiment))
    elif split is None:
        raise ConfigError(f"no section [{experiment}] in hyperparam.ini")
    return values


def offered_experiments(parser):
    """Experiments of hyperparam.ini that can run: supervised Ada-TVAE needs a dataset
    with ground-truth factors, so `adatvae_mnist` and the like are not offered."""
    offered = []
    for name in experiment_names(parser, LOSSES, DATASETS):
        split = split_experiment(name, LOSSES, DATASETS)
        if split and LOSSES[split[0]].view_sampling == "triplet" and not DATASETS[split[1]].has_factors:
            continue
        offered.append(name)
    return offered


def procedural_experiments(parser):
    """What bin/train_all.sh trains: every loss on dSprites (`<loss>_dsprites`), then each
    experiment hyperparam.ini names itself on a procedural dataset (best_dsprites, the
    Ada-TVAE research experiments, ...), in that order."""
    offered = offered_experiments(parser)
    names = [f"{loss}_dsprites" for loss in LOSSES if f"{loss}_dsprites" in offered]
    for name in parser.sections():
        if name == "Custom" or name.startswith("Common_") or name in names:
            continue
        dataset = experiment_values(parser, name, LOSSES, DATASETS).get("dataset")
        if dataset in DATASETS and DATASETS[dataset].procedural:
            names.append(name)
    return names


# ----------------------------------------------------------------- the declared options

def option_groups(experiments=None):
    """[(title, options)] of every parameter, as the command line groups them: general,
    training (with each dataset's own options), model, each loss's, evaluation. The
    choices of -d, -l, -m, --metrics (and -x when `experiments` is given) are the registries."""
    choices = {"dataset": tuple(DATASETS), "loss": tuple(LOSSES), "model_type": tuple(MODELS),
               "metrics": tuple(METRICS)}
    if experiments is not None:
        choices["experiment"] = tuple(experiments)

    def filled(options):
        return [dataclasses.replace(o, choices=choices[o.name]) if o.name in choices else o for o in options]

    dataset_options = list(dict.fromkeys(o for cls in DATASETS.values() for o in cls.options.values()))
    groups = [(GENERAL[0], filled(GENERAL[1])), (TRAINING[0], filled(TRAINING[1]) + dataset_options),
              (MODEL[0], filled(MODEL[1]))]
    groups += [(cls.title or f"{name} specific parameters", list(cls.options.values()))
               for name, cls in LOSSES.items() if cls.options]
    groups.append((EVALUATION[0], filled(EVALUATION[1])))
    return groups


def all_options(experiments=None):
    """{name: Option} of every parameter; a name declared twice is a programming error."""
    options = {}
    for _, group in option_groups(experiments):
        for option in group:
            if option.name in options and options[option.name] != option:
                raise RuntimeError(f"option {option.name!r} is declared twice")
            options[option.name] = option
    return options


def flag_names(names):
    """The command-line flags of the options `names`, as one comma-separated string."""
    options = all_options()
    return ", ".join(options[name].flag for name in names)


def dataset_of_option(name):
    """The dataset an option belongs to (None for the options of every run)."""
    return next((d for d, cls in DATASETS.items() if any(o.name == name for o in cls.options.values())), None)


# ----------------------------------------------------------------- checks and merging

def check_ini_values(values, experiment, options):
    """Every value hyperparam.ini gives `experiment`: a known key, of the option's type and
    range (argparse checks typed flags only). Returns them under the options' names."""
    by_ini_key = {o.ini_key or o.name: o for o in options.values() if o.in_ini}
    checked = {}
    for key, value in values.items():
        if key == "experiment":
            continue
        if key not in by_ini_key:
            known = ", ".join(sorted(by_ini_key))
            raise ConfigError(f"hyperparam.ini: unknown key {key!r} in the sections of {experiment} (known: {known})")
        try:
            checked[by_ini_key[key].name] = check_value(by_ini_key[key], value, f"hyperparam.ini ({experiment})")
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return checked


def run_parameters(typed=None, config=None):
    """Namespace of every parameter of a run: declared defaults < hyperparam.ini's
    `typed["experiment"]` (default custom) < `typed` (the flags typed on the command line,
    already parsed). `.typed` lists the typed names."""
    typed = dict(typed or {})
    config = config or read_config()
    experiment = typed.get("experiment", "custom")
    options = all_options()
    params = {name: option.default for name, option in options.items()}
    values = experiment_values(config, experiment, LOSSES, DATASETS)
    params.update(check_ini_values(values, experiment, options))
    params["experiment"] = experiment
    params.update(typed)
    loss = LOSSES[params["loss"]]
    for key, value in loss.fixed_defaults.items():
        if key not in typed:
            params[key] = value
    for key in typed:
        owner = dataset_of_option(key)
        if owner is not None and owner != params["dataset"]:
            raise DisvaeError(f"{options[key].flag} is an option of dataset {owner}, not of {params['dataset']}")
    for key in ("batch_size", "eval_batchsize"):
        if params[key] < loss.min_batch:
            raise DisvaeError(f"{loss.name} estimates from the whole minibatch: {options[key].flag} must be at "
                              f"least {loss.min_batch}, got {params[key]}")
    return argparse.Namespace(**params, typed=sorted(typed))


def experiment_parameters(experiment, **typed):
    """The parameters of a predefined experiment, with `typed` as if typed (bin/ scripts)."""
    return run_parameters({"experiment": experiment, **typed} if experiment != "custom" else typed)


def check_run_parameters(saved, where):
    """The parameters of a specs.json (`where`), each checked by its option's rules;
    parameters added since are filled with their declared defaults. Raises a one-line
    DisvaeError on an unknown key or a bad value."""
    options = all_options()
    params = {name: option.default for name, option in options.items()}
    for key, value in saved.items():
        if key not in options:
            raise DisvaeError(f"{where}: unknown parameter args.{key}")
        try:
            params[key] = check_value(options[key], value, where, label=f"args.{key}")
        except ValueError as err:
            raise DisvaeError(str(err)) from None
    return params
