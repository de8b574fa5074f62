"""glibc allocator settings for training speed (imported before torch, so it applies to
every allocation of the process)."""
import sys


def tune_allocator(threshold=256 * 2**20):
    """Keep glibc from returning freed memory to the system after every training step.

    PyTorch frees and re-allocates the same large activation buffers every step; with
    glibc's default thresholds each one is unmapped and mapped again, costing page
    faults (measured: main.py trained ~25-35% slower). Raising the mmap and trim
    thresholds (as GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...:trim_threshold=... would)
    keeps them. No-op without glibc.
    """
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, threshold)) and bool(libc.mallopt(m_trim_threshold, threshold))
    except (OSError, AttributeError):
        return False
