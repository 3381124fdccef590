"""retain_freed_memory: freed tensor buffers are reused instead of page-faulted back in."""

import os
import subprocess
import sys
import textwrap

import pytest

from proglearn_supcon.runs import allocator

glibc = pytest.mark.skipif(allocator._libc() is None, reason="needs glibc's mallopt")

# Allocates, touches and frees an 8 MiB block 30 times with the C library's
# malloc (as torch's CPU allocator does); prints the minor page faults of the
# loop. The allocator module is loaded from its file so the child stays free
# of torch and fast.
_CHILD = textwrap.dedent("""
    import ctypes, importlib.util, resource, sys
    spec = importlib.util.spec_from_file_location("allocator", sys.argv[2])
    allocator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(allocator)
    if sys.argv[1] == "retain":
        assert allocator.retain_freed_memory()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    size = 8 * 1024 * 1024

    def touch_and_free():
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)

    touch_and_free()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(30):
        touch_and_free()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _page_faults(mode: str) -> int:
    # Dask's nanny starts its workers with this trim threshold.
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, allocator.__file__], capture_output=True, text=True, check=True, env=env
    )
    return int(out.stdout.strip().splitlines()[-1])


@glibc
def test_freed_buffers_are_reused_instead_of_faulted_back_in():
    # 30 fresh 8 MiB buffers are 30 x 2048 pages of 4 KiB without the setting;
    # with it at most about one buffer's pages are faulted in.
    without, retained = _page_faults("none"), _page_faults("retain")
    assert without > 30 * 1000
    assert retained * 10 < without


@glibc
def test_retain_freed_memory_reports_success_on_glibc():
    assert allocator.retain_freed_memory() is True


def test_retain_freed_memory_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(allocator, "_libc", lambda: None)
    assert allocator.retain_freed_memory() is False
