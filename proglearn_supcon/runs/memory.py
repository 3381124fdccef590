"""The peak memory of one run, not of the whole process.

``ru_maxrss`` is the peak resident memory of the process's whole life: in a
worker that trains run after run it reports the largest run so far (or the
memory an earlier run left behind), never what the current run needs. Linux
lets a process reset its own peak: writing ``5`` to ``/proc/self/clear_refs``
sets ``VmHWM`` (``/proc/self/status``) back to the current resident memory
(Linux 4.0 and later). :class:`PeakMemory` does that when it starts and reads
``VmHWM`` afterwards; where the reset is not allowed (other systems,
restricted ``/proc``) it falls back to ``ru_maxrss`` and says so in
:attr:`PeakMemory.scope`.
"""

from __future__ import annotations

import resource
import sys

__all__ = ["PeakMemory", "current_rss_mb"]


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (``VmHWM``, ``VmRSS``) in MiB, or None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_kernel_peak() -> bool:
    """Reset this process's VmHWM to its current resident memory; False where Linux does not allow it."""
    if _status_mb("VmHWM") is None:
        return False
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _lifetime_peak_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB elsewhere


def current_rss_mb() -> float:
    """Resident memory of this process now, in MiB (NaN where /proc/self/status is missing)."""
    rss = _status_mb("VmRSS")
    return float("nan") if rss is None else rss


class PeakMemory:
    """Peak memory since this object was made (or :meth:`reset`), in MiB.

    Resident memory of the process plus, when CUDA is in use, the peak memory
    torch allocated on the current CUDA device.

    Attributes
    ----------
    scope : {"run", "process"}
        ``"run"``: the peak since the reset (the kernel's peak was reset).
        ``"process"``: the reset was not possible; :meth:`mb` is the
        process-lifetime peak (``ru_maxrss``), an upper bound of the run's.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start measuring from now: the kernel's and torch's CUDA peaks go back to the current use."""
        self.scope = "run" if _reset_kernel_peak() else "process"
        cuda = _cuda()
        if cuda is not None:
            cuda.reset_peak_memory_stats()

    def mb(self) -> float:
        """The peak since the reset (``scope == "run"``) or of the process (``"process"``), in MiB."""
        peak = _status_mb("VmHWM") if self.scope == "run" else None
        if peak is None:
            peak = _lifetime_peak_mb()
        cuda = _cuda()
        if cuda is not None:
            peak += cuda.max_memory_allocated() / 2**20
        return float(peak)


def _cuda():
    """torch.cuda when CUDA is in use in this process, else None (no CUDA context is created)."""
    torch = sys.modules.get("torch")  # not imported here: no import of torch only to find it unused
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda
