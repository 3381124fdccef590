"""Run the README's quick start and write its output into README.md (between the quick-start markers).

Usage, from the repository root::

    python docs/regenerate_quickstart.py           # rewrites README.md
    python docs/regenerate_quickstart.py --check   # prints the new block, changes nothing

``proglearn-supcon run`` (no options) runs in a temporary folder, as a user
runs it in theirs, so the paths it prints are the user's
(``results/digits-hard/...``). The block is its stdout (the progress bars go
to stderr), preceded by one sentence naming the machine, the arithmetic the
runs used, the time it took and how busy the machine was, so the quoted
numbers are never older than the code that printed them without saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START = "<!-- quickstart-output: start (written by docs/regenerate_quickstart.py) -->"
END = "<!-- quickstart-output: end -->"


def replace_block(readme: str, block: str) -> str:
    """``readme`` with the text between :data:`START` and :data:`END` replaced by ``block``."""
    pattern = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.DOTALL)
    if len(pattern.findall(readme)) != 1:
        raise ValueError(f"README.md must hold the markers {START!r} ... {END!r} once")
    return pattern.sub(lambda _: f"{START}\n{block.rstrip()}\n{END}", readme)


def busy_cpu_seconds() -> float | None:
    """CPU seconds all cores of the machine have been busy since boot (``/proc/stat``); None where it is missing."""
    try:
        ticks = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    idle = ticks[3] + ticks[4]  # idle and iowait; guest time is already inside user time
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_state(load: float, other_cores: float | None) -> str:
    """How busy the machine was: the cores other processes used during the run, else the load average before it.

    The load average before the run misses work that starts with it (a test
    suite started a few seconds earlier reads as idle), so where the machine
    counts its busy time the other processes' share of the run's wall time decides.
    """
    if other_cores is not None:
        if other_cores < 0.25:
            return "an otherwise idle machine"
        return f"a machine other work kept busy ({other_cores:.1f} cores on average)"
    return "an otherwise idle machine" if load < 1 else f"a machine already busy (1-minute load average {load:.1f})"


def run_quick_start() -> tuple[str, float, str, dict]:
    """``(stdout, seconds, how busy the machine was, a results file's config)`` of ``proglearn-supcon run``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as folder:
        load = os.getloadavg()[0]
        busy_before, children_before = busy_cpu_seconds(), children_cpu_seconds()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "proglearn_supcon.cli", "run"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        busy_after, children_after = busy_cpu_seconds(), children_cpu_seconds()
        other_cores = None
        if busy_before is not None and busy_after is not None:
            other = (busy_after - busy_before) - (children_after - children_before)
            other_cores = max(other, 0.0) / seconds
        if done.returncode != 0:
            raise SystemExit(f"the quick start failed (exit status {done.returncode}):\n{done.stderr}")
        config = json.loads(next(Path(folder, "results", "digits-hard").glob("*/shift1_slot0.json")).read_text())[
            "config"
        ]
    return done.stdout, seconds, machine_state(load, other_cores), config


def block_text(stdout: str, seconds: float, busy: str, config: dict) -> str:
    """The sentence naming the machine and the run, and the output as a ``text`` code block."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    sentence = (
        f"Its output on {date.today():%Y-%m-%d} ({config['cpu_model']}, {cores} cores, torch {torch.__version__}, "
        f"{config['arithmetic']}, {config['torch_threads']} torch threads; {seconds:.0f} s on {busy}), "
        "written by `python docs/regenerate_quickstart.py` (stdout only, the progress bars go to stderr):"
    )
    return f"{sentence}\n\n```text\n{stdout.rstrip()}\n```"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="print the new block; leave README.md as it is")
    args = parser.parse_args(argv)
    block = block_text(*run_quick_start())
    if args.check:
        print(block)
        return 0
    README.write_text(replace_block(README.read_text(encoding="utf-8"), block), encoding="utf-8")
    print(f"rewrote the quick-start output in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
