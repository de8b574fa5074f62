"""CLI helpers shared by main.py and main_viz.py: one-line errors, logging, seeds, devices."""
import argparse
import logging
import random
import re
import sys

import numpy as np
import torch


class CLIError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line (no usage dump) and exits 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def seed_type(value):
    """`-s/--seed`: an integer, or None for stochastic behaviour."""
    if str(value).lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer or None, got {value!r}") from None


RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def run_name(value):
    """A results folder name: letters, digits and `_ . + -`, no path separators."""
    if value == argparse.SUPPRESS:  # argparse runs an optional positional's default through its type
        return value
    if not RUN_NAME.fullmatch(value) or len(value) > 200:
        raise argparse.ArgumentTypeError(f"a run name is letters, digits and _ . + - (no '/' or leading '.'), "
                                         f"got {value!r}")
    return value


def ranged(kind, low, high=None, include_low=True, expected="a number"):
    """argparse type: `kind(value)` within [low, high] (or (low, high] without include_low)."""
    def parse(value):
        try:
            number = kind(value)
        except ValueError:
            number = None
        if number is None or not (number >= low if include_low else number > low) or \
                (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
        return number
    return parse


def positive(kind):
    return ranged(kind, 0, include_low=False, expected=f"a positive {kind.__name__}")


def non_negative(kind):
    return ranged(kind, 0, expected="a number >= 0")


unit_interval = ranged(float, 0, 1, expected="a number in [0, 1]")


def set_seed(seed):
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def get_device(no_cuda=False):
    return torch.device("cuda" if torch.cuda.is_available() and not no_cuda else "cpu")


def setup_logger(level="info", name="disvae"):
    logger = logging.getLogger(name)
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s - %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    return logger


def run_cli(main, argv=None):
    """Run `main(argv)`, turning known user-facing errors into one line and an exit status."""
    from utils.config import ConfigError
    from utils.datasets import DatasetNotFoundError
    try:
        return main(argv)
    except (CLIError, ConfigError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    except DatasetNotFoundError as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
