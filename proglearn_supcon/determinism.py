"""Deterministic kernels while a transformer trains and embeds.

The library's own code repeats bit for bit at a given thread count (the
SupCon loss sums by matmul, not by atomic or order-varying scatters), but
torch kernels may not: several CUDA kernels (and a few CPU ones) accumulate
in a varying order unless torch is asked for its deterministic versions.
:func:`deterministic_algorithms` asks for them, and for cuDNN's deterministic
convolutions, for the duration of a ``with`` block, then puts torch's global
settings back as they were, so the caller's own code is not affected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["deterministic_algorithms"]


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """Within the block, torch's deterministic algorithms (warn-only) and cuDNN's deterministic mode.

    Parameters
    ----------
    enabled : bool
        False: a no-op, torch's settings as they are.

    Notes
    -----
    ``warn_only=True``: an operation without a deterministic version warns
    instead of raising, so an unusual encoder still trains. Torch's filling
    of uninitialised memory (``torch.utils.deterministic.fill_uninitialized_memory``,
    on by default with deterministic algorithms) is turned off for the block:
    it only makes reads of uninitialised memory visible, no kernel needs it,
    and writing NaN into every new buffer cost about 10% of a CPU run's wall
    time (performance page, j). cuBLAS also needs
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment before CUDA starts
    for deterministic matmuls; torch warns where it is missing.
    """
    if not enabled:
        yield
        return
    fill = getattr(torch.utils, "deterministic", None)  # torch >= 2.1
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        None if fill is None else fill.fill_uninitialized_memory,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    if fill is not None:
        fill.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2], previous[3]
        if fill is not None:
            fill.fill_uninitialized_memory = previous[4]
