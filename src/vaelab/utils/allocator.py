"""CPU allocator settings: keep freed activation buffers in the process instead of returning them to the OS.

glibc serves blocks above its mmap threshold with fresh mmap() calls and trims the heap top when it is
freed, so each training step of a mid-sized MLP re-faults the same few megabytes of activations page by
page. A fixed, large mmap threshold and trim threshold make the allocator reuse that memory instead
(the setting Intel's PyTorch tuning guide recommends through jemalloc/tcmalloc; here without a preload).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 1 << 30

_done = False


def keep_freed_memory() -> bool:
    """Apply the settings once per process (glibc on Linux only; ``VAELAB_MALLOC_TUNING=0`` leaves the
    allocator alone); returns whether they are in effect."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("VAELAB_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
