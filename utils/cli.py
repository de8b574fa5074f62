"""Command-line helpers of main.py and main_viz.py: option groups generated from the
declared options, one-line errors, logging, and the SIGINT/SIGTERM handling of a
whole command."""
import argparse
import errno
import logging
import signal
import sys

from disvae import phases
from disvae.errors import DisvaeError


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line (no usage dump) and exits 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def argparse_type(parse):
    """A value parser of disvae/options.py as an argparse type (its ValueError, one line)."""
    def convert(text):
        if text == argparse.SUPPRESS:  # argparse runs an optional positional's default through its type
            return text
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


class OnceAction(argparse.Action):
    """Stores an option's value (typed, or an alias's fixed value); typing the option
    twice with different values (`--bf16 --precision fp32`) is an error, not a silent
    choice of the last."""

    def __init__(self, option_strings, dest, fixed=None, **kwargs):
        self.fixed = fixed
        super().__init__(option_strings, dest, nargs=0 if fixed is not None else None, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        value = self.fixed if self.fixed is not None else values
        previous = getattr(namespace, self.dest, None)
        if getattr(namespace, f"_{self.dest}_typed", False) and previous != value:
            parser.error(f"argument {option_string}: conflicts with the {self.dest} typed before ({previous})")
        setattr(namespace, self.dest, value)
        setattr(namespace, f"_{self.dest}_typed", True)


LONG_CHOICES = 12  # more choices than this are named in the help only


def add_option(group, option, default=argparse.SUPPRESS):
    """One declared Option as an argparse argument (`default` SUPPRESS: absent unless typed)."""
    shown = option.default is not None and option.kind not in ("flag", "positional")
    long_choices = option.choices is not None and len(option.choices) > LONG_CHOICES
    text = option.help + (f" One of: {', '.join(map(str, option.choices))}." if long_choices else "")
    kwargs = {"help": f"{text} (default: {option.default})" if shown else text, "default": default}
    if option.kind == "flag":
        group.add_argument(*option.cli_flags, dest=option.name, action="store_true", **kwargs)
        return
    if option.parse is not None:
        kwargs["type"] = argparse_type(option.parse)
    if option.choices is not None:
        kwargs["choices"] = option.choices
        if long_choices:  # listed once, in the help, not in the usage line too
            kwargs["metavar"] = option.name.upper()
    if option.kind == "list":
        kwargs["nargs"] = "+"
    if option.kind == "positional":
        group.add_argument(option.name, nargs="?", metavar=option.name.upper(), **kwargs)
        return
    if option.aliases:
        kwargs["action"] = OnceAction
    group.add_argument(*option.cli_flags, dest=option.name, **kwargs)
    for alias, value in option.aliases.items():
        group.add_argument(alias, dest=option.name, action=OnceAction, fixed=value, default=default,
                           help=f"Same as {option.cli_flags[-1]} {value}.")


def add_option_groups(parser, groups):
    for title, options in groups:
        group = parser.add_argument_group(title)
        for option in options:
            add_option(group, option)


def typed_values(namespace):
    """The options typed on the command line (argparse defaults are SUPPRESS) as a dict."""
    return {key: value for key, value in vars(namespace).items() if not key.startswith("_")}


def setup_logger(level="info", name="disvae"):
    logger = logging.getLogger(name)
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s - %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    return logger


WRITE_ERRORS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EDQUOT}


def _interrupt(signum, frame):
    phases.STATE["signal"] = signal.Signals(signum).name
    raise KeyboardInterrupt(phases.STATE["signal"])


def run_cli(main, argv=None):
    """Run `main(argv)`, turning the library's errors into one line and their exit status;
    SIGINT/SIGTERM end it with one line saying what was kept, status 130."""
    phases.reset()
    handlers = {}
    try:
        handlers = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        return main(argv)
    except DisvaeError as err:
        sys.stderr.write(f"error: {err}\n")
        return err.exit_status
    except KeyboardInterrupt:
        sys.stderr.write(phases.interruption_message() + "\n")
        return 130
    except OSError as err:
        if err.errno not in WRITE_ERRORS:
            raise
        # read-only or full results folder: atomic writes leave the earlier files as they were
        where = f" {err.filename}" if err.filename else ""
        sys.stderr.write(f"error: cannot write{where}: {err.strerror or err} (nothing half-written was left)\n")
        return 1
    except Exception:
        if phases.STATE["signal"] is None:
            raise
        # a signal that reached worker code (joblib, sklearn) can surface as another error
        sys.stderr.write(phases.interruption_message() + "\n")
        return 130
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
