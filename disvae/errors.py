"""The one error type of the library: bad input (an option value, hyperparam.ini, a
results folder, a dataset file) that the user can fix. Its message is one line; a
command line prints it and exits with `exit_status`, without a traceback."""


class DisvaeError(Exception):
    exit_status = 2


class ConfigError(DisvaeError):
    """hyperparam.ini is missing or malformed, or has no such section."""


class DatasetNotFoundError(DisvaeError):
    """Files of a file-backed dataset are missing."""
    exit_status = 1


class DatasetFileError(DatasetNotFoundError):
    """A file of a file-backed dataset is there but cannot be read."""
