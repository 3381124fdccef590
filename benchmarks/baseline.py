"""Benchmark d: the library's path against an earlier commit, both measured in this run.

The earlier commit is unpacked with ``git archive`` into a temporary folder
and its own experiment script runs there; the current code runs the same
task sequence, shift and slot. Each run is a fresh process on the whole
machine, one after the other; the wall time includes start-up and data
loading for both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

from proglearn_supcon.runs.results import read_run, run_path

REPO = Path(__file__).resolve().parents[1]


def unpack(ref: str, into: Path) -> str:
    """Unpack commit ``ref`` of this repository into ``into``; return its full hash."""
    commit = subprocess.run(["git", "rev-parse", ref], cwd=REPO, capture_output=True, text=True, check=True)
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=REPO, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return commit.stdout.strip()


def run_experiment(code_dir: Path, out: Path, argv: list[str]) -> tuple[float, object]:
    """Run ``python -m experiments.cifar_task_sequence`` of ``code_dir``; (wall seconds, RunResult)."""
    env = {**os.environ, "PYTHONPATH": str(code_dir)}
    cmd = [sys.executable, "-m", "experiments.cifar_task_sequence", *argv, "--out", str(out), "--quiet"]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=code_dir, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    (variant,) = [a for a in argv[argv.index("--variant") + 1 :][:1]]
    shift = int(argv[argv.index("--shifts") + 1])
    slot = int(argv[argv.index("--slots") + 1])
    return wall, read_run(run_path(out, variant, shift, slot))


def run(ref: str, argv: list[str], current_params: dict[str, list[str]]) -> list[dict]:
    """The earlier commit with ``argv``, then the current code with ``argv`` plus each labelled argument list."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old_dir = Path(tmp) / "code"
        commit = unpack(ref, old_dir)
        cases = [(f"commit {commit[:7]} ({ref})", old_dir, [])]
        cases += [(f"current code, {label}", REPO, extra) for label, extra in current_params.items()]
        for i, (name, code_dir, extra) in enumerate(cases):
            wall, result = run_experiment(code_dir, Path(tmp) / f"out{i}", [*argv, *extra])
            rows.append(
                {
                    "code": name,
                    "wall_s": wall,
                    "final_accuracy": float(np.nanmean(result.accuracy[-1])),
                    "single_accuracy": float(np.nanmean(result.single_task_accuracy)),
                    "train_s_per_task": float(np.mean(result.tasks["train_time_s"])),
                }
            )
    return rows


def report(rows: list[dict], description: str) -> None:
    print(f"\nd) {description}: earlier commit against the current code, one process each")
    base = rows[0]["wall_s"]
    print(f"  {'code':<48}{'wall s':>8}{'train s/task':>14}{'final acc':>11}{'single acc':>12}{'x faster':>10}")
    for row in rows:
        print(
            f"  {row['code']:<48}{row['wall_s']:>8.1f}{row['train_s_per_task']:>14.1f}"
            f"{row['final_accuracy']:>11.3f}{row['single_accuracy']:>12.3f}{base / row['wall_s']:>10.2f}"
        )
