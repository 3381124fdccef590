"""Keep freed tensor memory in the process instead of handing it back to the OS.

A training step allocates and frees the same large buffers every time
(activations, bf16 copies of the weights, gradients: up to a few MiB each).
glibc's malloc serves blocks above its mmap threshold with fresh ``mmap``
pages and returns freed memory above its trim threshold to the OS, so each
step page-faults its buffers back in, and the kernel zeroes every page. On
the development machine that was 2,000 page faults per training step with
glibc's defaults, and 45,000 (1.5x slower steps) under
``MALLOC_TRIM_THRESHOLD_=65536``, which Dask's nanny sets for its worker
processes by default.

:func:`retain_freed_memory` raises both thresholds for the whole process with
``mallopt``: freed blocks are reused, and the process keeps its peak heap
until it exits. The experiment calls it at the start of every run (in every
worker); library users can call it once in their own training process.

Kept for a whole process, that freed memory is what made the peak resident
memory of worker processes climb run after run (2.5 GB after the first
CIFAR-100 run, 15 GB after the fifteenth): nothing of a finished run stays
alive, but its freed blocks stay resident, scattered through the heap, and the
next run's allocations do not fit only into them. :func:`release_freed_memory`
hands everything free back to the OS with ``malloc_trim(0)``; the experiment
calls it between runs, so each run keeps the speed of reused buffers and
starts from the memory it actually holds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

#: ``mallopt`` parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit systems (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Keep up to this much free memory at the top of the heap before trimming.
TRIM_THRESHOLD = 1024 * 1024 * 1024


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None  # musl has no mallopt


def retain_freed_memory() -> bool:
    """Make glibc reuse freed blocks (up to 32 MiB each) instead of unmapping or trimming them.

    Returns
    -------
    bool
        True when both settings were applied; False where the C library is
        not glibc (macOS, Windows, musl), where nothing is changed.
    """
    libc = _libc()
    if libc is None:
        return False
    ok_mmap = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    ok_trim = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(ok_mmap) and bool(ok_trim)


def release_freed_memory() -> bool:
    """Give the memory that is free in the process back to the OS (``malloc_trim(0)``).

    Collects Python's cyclic garbage first, so tensors held only by reference
    cycles are freed before the trim. Every arena is trimmed, including the
    free pages inside the heap, not only its top. It takes a few milliseconds;
    the settings of :func:`retain_freed_memory` stay in force, so the buffers
    of the next training steps are faulted in once and then reused again.

    Returns
    -------
    bool
        True when ``malloc_trim`` ran; False where the C library is not glibc
        (nothing is released beyond what ``gc.collect`` frees).
    """
    gc.collect()
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    libc.malloc_trim(0)
    return True
