"""Which arithmetic the transformers train and embed in: bf16 autocast or fp32.

bf16 autocast roughly doubles convolution and matmul throughput on GPUs and on
CPUs with native bf16 instructions (AVX512-BF16 or AMX); on other CPUs it is
emulated and slower than fp32, so ``"auto"`` only turns it on where it is
native. Losses and the kNN voters always compute in float32 or wider.

The environment variable ``PROGLEARN_SUPCON_BF16`` overrides the CPU
detection: ``1`` makes ``"auto"`` pick bf16 autocast on any CPU, ``0`` makes
it pick fp32 even where bf16 is native. It lets one machine run the test
suite (or a comparison) in both arithmetics a CPU may pick.
"""

from __future__ import annotations

import contextlib
import os

import torch

PRECISIONS = ("auto", "bf16", "fp32")
#: Environment variable that forces the CPU's bf16 detection on (``1``) or off (``0``).
BF16_ENV_VAR = "PROGLEARN_SUPCON_BF16"


def _forced_cpu_bf16() -> bool | None:
    """The CPU bf16 detection forced by :data:`BF16_ENV_VAR`: True, False, or None (unset or empty)."""
    value = os.environ.get(BF16_ENV_VAR, "").strip()
    if not value:
        return None
    if value not in ("0", "1"):
        raise ValueError(f"{BF16_ENV_VAR} must be 0 or 1 (or unset), got {value!r}")
    return value == "1"


def native_bf16(device: torch.device) -> bool:
    """True on CUDA and on CPUs whose instruction set has bf16 dot products (or as forced, see the module)."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    forced = _forced_cpu_bf16()
    if forced is not None:
        return forced
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    # private helpers of torch.cpu (torch >= 2.3); absent means "not known to be native"
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def use_bf16(precision: str, device: torch.device) -> bool:
    """Resolve ``precision`` ("auto", "bf16" or "fp32") for ``device``."""
    check_precision(precision)
    if precision == "auto":
        return native_bf16(device)
    return precision == "bf16"


def autocast(enabled: bool, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``enabled``; a no-op context otherwise."""
    if not enabled or device.type not in ("cpu", "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def no_autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast turned off on ``device``'s type, for code that must keep its inputs' dtype.

    The losses compute their similarity matrices in float32 and the augmenters
    keep views in the input's dtype, even when called inside a training step's
    bf16 autocast region (of this library or of the caller).

    Parameters
    ----------
    device : torch.device
        Device of the tensors the code works on.

    Returns
    -------
    context manager
        ``torch.autocast(device.type, enabled=False)`` where torch has autocast
        for that device type (CPU, CUDA, and e.g. MPS or XPU); a no-op context
        elsewhere (e.g. "meta"), where asking for autocast would warn.
    """
    available = getattr(torch.amp, "is_autocast_available", None)  # torch >= 2.4
    supported = available(device.type) if available is not None else device.type in ("cpu", "cuda")
    if not supported:
        return contextlib.nullcontext()
    return torch.autocast(device.type, enabled=False)
