"""Where and how a run computes: seeds, devices, CPU threads, training arithmetic."""
import os
import random

import numpy as np
import torch

from disvae.errors import DisvaeError

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


def get_device(no_cuda=False, spec="auto"):
    """The device of --device `spec` (auto: the first visible GPU, else the CPU); --no-cuda
    is the CPU whatever `spec` says. A GPU that is not there is a DisvaeError."""
    if no_cuda or spec == "cpu":
        return torch.device("cpu")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        raise DisvaeError(f"--device {spec}: no CUDA GPU is visible here (see nvidia-smi and CUDA_VISIBLE_DEVICES); "
                          "train on the CPU with --device cpu")
    device = torch.device(spec)
    visible = torch.cuda.device_count()
    if device.index is not None and device.index >= visible:
        raise DisvaeError(f"--device {spec}: {visible} GPU(s) are visible, cuda:0 to cuda:{visible - 1} "
                          "(CUDA_VISIBLE_DEVICES numbers the GPUs it lists from 0)")
    return device


def configure_backends(device, deterministic=False):
    """--deterministic: deterministic algorithms (PyTorch warns about an operation that has
    none), no TF32 and no cuDNN autotuning, so that a CUDA run repeats bit for bit. Without
    it, CUDA runs autotune their convolutions (cudnn.benchmark), which may pick other
    kernels from run to run: equal within float tolerance, not bit for bit."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def to_device(tensor, device):
    """A CPU tensor on `device` without making the host wait for the device: a
    non-blocking copy (from pinned memory on CUDA); unchanged when `device` is the CPU."""
    device = torch.device(device)
    if device.type == "cpu":
        return tensor
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


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
