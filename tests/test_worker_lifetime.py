"""Local workers end with their driver (issue 29, item 6): no worker trains on for nobody after a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A run function the loky workers import by name: records its pid, then "trains" for a minute.
SLOW_RUN = """
import os, time
from pathlib import Path

def slow_run_one(spec, args, threads, position):
    Path(args.out, f"worker-{os.getpid()}").write_text("")
    time.sleep(60)
"""

DRIVER = """
import argparse, sys
from proglearn_supcon.experiments import driver
from proglearn_supcon.experiments.run_record import RunSpec
from slow_run import slow_run_one

args = argparse.Namespace(out=sys.argv[1], backend="loky", n_jobs=2, threads_per_run=1, quiet=True,
                          scheduler=None, ray_address=None, devices=None, device="cpu")
driver.run_all([RunSpec("ce", s, 0) for s in (1, 2)], 2, args, slow_run_one)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_busy_workers_end_soon_after_the_driver_is_killed(tmp_path):
    (tmp_path / "slow_run.py").write_text(SLOW_RUN)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}
    process = subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("worker-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = [int(p.name.split("-")[1]) for p in out.glob("worker-*")]
        assert len(workers) == 2, "the workers never started"
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 15  # well before their minute-long jobs, or loky's 300 s
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        process.kill()
        for pid in [int(p.name.split("-")[1]) for p in out.glob("worker-*")]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
