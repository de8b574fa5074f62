"""hyperparam.ini: predefined experiments, read with the standard library's configparser.

Precedence (later wins): [Custom] < [Common_<dataset>] < [Common_<loss>] < [<experiment>]
< flags typed on the command line. Common sections apply to experiments named
`<loss>_..._<dataset>`; other sections (best_celeba, debug, ...) are self-contained
and may pull values from others with ${Section:key}.
"""
import ast
import configparser
import os

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hyperparam.ini")


class ConfigError(Exception):
    """hyperparam.ini is missing, malformed, or has no such section."""


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
    """`<loss>_..._<dataset>` -> (loss, dataset), or None for other experiment names."""
    parts = name.split("_")
    if parts[0] not in losses:
        return None
    for start in range(1, len(parts)):
        candidate = "_".join(parts[start:])
        if candidate in datasets:
            return parts[0], candidate
    return None


def experiment_names(parser, losses, datasets):
    """Every experiment: custom, the ini's own sections, and every <loss>_<dataset>."""
    names = ["custom"]
    names += [s for s in parser.sections() if s != "Custom" and not s.startswith("Common_")]
    names += [f"{loss}_{data}" for loss in losses for data in datasets if f"{loss}_{data}" not in names]
    return names


def experiment_values(parser, experiment, losses, datasets):
    """Values of `experiment`, merged in precedence order on top of [Custom]."""
    values = get_section(parser, "Custom")
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
