"""Atomic file writes: write a temporary file in the same folder, then rename, so a
crash never leaves a half-written model or log."""
import json
import os
import tempfile

UMASK = os.umask(0)
os.umask(UMASK)

import numpy as np
import torch


def atomic_write(path, write, mode="wb"):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_torch_save(obj, path):
    atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(path, text):
    atomic_write(path, lambda f: f.write(text), mode="w")


def atomic_write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=4, sort_keys=True, default=str) + "\n")


def atomic_save_npy(path, array):
    atomic_write(path, lambda f: np.save(f, array))


def sync_file(path):
    """Flush an appended file to disk (nothing when it does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
