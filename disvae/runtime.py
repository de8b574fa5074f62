"""Where and how a run computes: seeds, devices, CPU threads, training arithmetic."""
import os
import random

import numpy as np
import torch

CPUINFO = "/proc/cpuinfo"


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


def get_device(no_cuda=False):
    return torch.device("cuda" if torch.cuda.is_available() and not no_cuda else "cpu")


def cpu_has_native_bf16(cpuinfo=None):
    """True on CPUs with AVX-512 BF16 or AMX (Linux /proc/cpuinfo flags; False elsewhere)."""
    try:
        with open(cpuinfo or CPUINFO) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def training_dtype(precision, device):
    """The autocast dtype of `--precision` (None: float32). `auto` picks bfloat16 where
    it is native: GPUs with bf16 and CPUs with AVX-512 BF16 or AMX; elsewhere (an AVX2-only
    CPU emulates bf16, measured ~14x slower than float32) float32."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto":
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_native_bf16()
        return torch.bfloat16 if native else None
    return None
