"""Memory of one run, and of consecutive runs in one process (issue: memory grew run after run)."""

from __future__ import annotations

import numpy as np
import pytest

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.experiments import run_record, sequence
from proglearn_supcon.experiments.arguments import build_parser
from proglearn_supcon.runs.allocator import release_freed_memory
from proglearn_supcon.runs.memory import PeakMemory, current_rss_mb

# Every test here allocates hundreds of MiB or trains whole runs.
pytestmark = pytest.mark.slow

needs_reset = pytest.mark.skipif(PeakMemory().scope != "run", reason="this system cannot reset the peak (VmHWM)")


@needs_reset
def test_peak_resets_to_the_current_memory():
    big = np.ones(300 * 2**20 // 8)  # 300 MiB, touched
    before = PeakMemory().mb()
    del big
    release_freed_memory()
    peak = PeakMemory()
    assert peak.scope == "run"
    # The 300 MiB freed before the reset are not in the new peak ...
    assert peak.mb() < before - 200
    # ... and a new allocation after it is.
    again = np.ones(100 * 2**20 // 8)
    assert peak.mb() >= current_rss_mb() - 1
    del again


def _rss_after_runs(argv: list[str], n_runs: int) -> list[float]:
    """Resident memory after each of ``n_runs`` runs of ``argv`` in this process (freed memory released)."""
    args = build_parser().parse_args(argv)
    rss = []
    for i in range(n_runs):
        sequence.run_one(run_record.RunSpec("ce", 1 + i % 6, 0), args)
        release_freed_memory()
        rss.append(current_rss_mb())
    return rss


@needs_reset
def test_consecutive_runs_do_not_grow_memory(tiny_run_args):
    rss = _rss_after_runs(tiny_run_args("--variant", "ce"), 5)
    # After the first run (imports, digits, torch's pools), each further run adds
    # little: generous here (the benchmark prints the real figure), while one
    # leaked network per run (two 2000-d dense layers each, about 50 MiB) fails it.
    per_run = (rss[-1] - rss[1]) / 3
    assert per_run < 20, rss


@needs_reset
def test_a_leaking_run_is_caught(monkeypatch, tiny_run_args):
    """The bound above can fail: runs that keep their networks alive exceed it."""
    kept = []

    class Leaking(LifelongClassificationNetwork):
        def add_task(self, *args, **kwargs):
            kept.append(self)
            return super().add_task(*args, **kwargs)

    monkeypatch.setattr(sequence, "LifelongClassificationNetwork", Leaking)
    rss = _rss_after_runs(tiny_run_args("--variant", "ce"), 4)
    assert len({id(net) for net in kept}) == 4
    assert (rss[-1] - rss[1]) / 2 >= 20, rss


def test_runs_record_their_own_peak(tmp_path, tiny_run_args):
    args = build_parser().parse_args(tiny_run_args("--variant", "ce", "--out", tmp_path))
    run = sequence.run_one(run_record.RunSpec("ce", 1, 0), args)
    assert run.config["peak_memory_scope"] in ("run", "process")
    peaks = run.tasks["peak_memory_mb"]
    assert (peaks > 0).all() and (np.diff(peaks) >= 0).all()  # a running peak within the run
