"""CLI helpers shared by main.py and main_viz.py: one-line errors, logging, seeds, devices."""
import argparse
import contextlib
import errno
import logging
import os
import random
import re
import signal
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


def seeded_generator(seed):
    """A torch.Generator seeded with `seed` (a fresh random seed when None)."""
    return torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2**31)


def available_cores():
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_threads():
    """OMP_NUM_THREADS when set (bin/*.sh -j N sets it to share the cores), else the available cores."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return available_cores()


@contextlib.contextmanager
def run_lock(path):
    """Hold an exclusive lock on `path` for the duration; a one-line CLIError if another
    process holds it (the lock dies with its process, so a crash never leaves it held)."""
    import fcntl
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise CLIError(f"{path[:-5] if path.endswith('.lock') else path} is in use by {holder}; "
                           "wait for it to finish (two runs must not share a results folder)") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def get_device(no_cuda=False):
    return torch.device("cuda" if torch.cuda.is_available() and not no_cuda else "cpu")


CPUINFO = "/proc/cpuinfo"


def cpu_has_native_bf16(cpuinfo=None):
    """True on CPUs with AVX-512 BF16 or AMX (Linux /proc/cpuinfo flags; False elsewhere)."""
    try:
        with open(cpuinfo or CPUINFO) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def training_dtype(precision, device, bf16_flag=False):
    """The autocast dtype of `--precision` (None: float32). `auto` picks bfloat16 where
    it is native: GPUs with bf16 and CPUs with AVX-512 BF16 or AMX. `--bf16` (the older
    flag) means bf16."""
    if bf16_flag or precision == "bf16":
        return torch.bfloat16
    if precision == "auto":
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_native_bf16()
        return torch.bfloat16 if native else None
    return None


def setup_logger(level="info", name="disvae"):
    logger = logging.getLogger(name)
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s - %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    return logger


WRITE_ERRORS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EDQUOT}

# What the command is doing and which files it has finished, for the one line printed
# when SIGINT/SIGTERM stops it (training has its own handling: it saves a checkpoint).
_STATE = {"doing": "starting", "kept": {}, "signal": None}


@contextlib.contextmanager
def phase(doing):
    """Name what the enclosed code does (`computing metric dci`) for an interruption message."""
    previous, _STATE["doing"] = _STATE["doing"], doing
    yield  # on an exception the phase stays named: it is where the command stopped
    _STATE["doing"] = previous


def keep(key, description):
    """Record a file written in full (`metrics.log (mig, dci)`): an interruption keeps it."""
    _STATE["kept"][key] = description


def _interrupt(signum, frame):
    _STATE["signal"] = signal.Signals(signum).name
    raise KeyboardInterrupt(_STATE["signal"])


def interruption_message():
    kept = ", ".join(_STATE["kept"].values()) or "no new file"
    return (f"interrupted ({_STATE['signal'] or 'SIGINT'}) while {_STATE['doing']}; kept {kept}; "
            "nothing half-written was left")


def run_cli(main, argv=None):
    """Run `main(argv)`, turning known user-facing errors into one line and an exit
    status; SIGINT/SIGTERM end it with one line saying what was kept, status 130."""
    from utils.config import ConfigError
    from utils.datasets import DatasetNotFoundError
    _STATE.update(doing="starting", kept={}, signal=None)
    handlers = {}
    try:
        handlers = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        return main(argv)
    except (CLIError, ConfigError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    except DatasetNotFoundError as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(interruption_message() + "\n")
        return 130
    except OSError as err:
        if err.errno not in WRITE_ERRORS:
            raise
        # read-only or full results folder: atomic writes leave the earlier files as they were
        where = f" {err.filename}" if err.filename else ""
        sys.stderr.write(f"error: cannot write{where}: {err.strerror or err} (nothing half-written was left)\n")
        return 1
    except Exception:
        if _STATE["signal"] is None:
            raise
        # a signal that reached worker code (joblib, sklearn) can surface as another error
        sys.stderr.write(interruption_message() + "\n")
        return 130
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
