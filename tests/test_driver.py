"""The driver (proglearn_supcon/experiments/driver.py) runs whatever run function it is given."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from proglearn_supcon.experiments import driver
from proglearn_supcon.experiments.run_record import RunSpec
from proglearn_supcon.runs.results import load_runs
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

# Every test here starts the driver's loky pool or a Python subprocess.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_driver_does_not_import_the_experiment():
    """No import circle: the experiment imports the driver, never the other way round."""
    code = (
        "import sys, proglearn_supcon.experiments.driver; "
        "print(sorted(m for m in sys.modules if m.startswith('proglearn_supcon.experiments')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    # checkpoints: the path helpers of a run's checkpoint, which import nothing of the experiment.
    assert done.stdout.strip() == (
        "['proglearn_supcon.experiments', 'proglearn_supcon.experiments.checkpoints', "
        "'proglearn_supcon.experiments.driver']"
    )


def fake_run_one(spec, args, threads, position):
    """A run function of the driver's contract that trains nothing: accuracy 0.5 + shift / 10."""
    n = 2
    accuracy = np.tril(np.full((n, n), 0.5 + spec.shift / 10))
    return RunResult(
        spec.variant,
        "synthetic",
        spec.shift,
        spec.slot,
        accuracy,
        {name: np.ones(n) for name in TASK_FIELDS},
        {"threads": threads},
    )


def failing_run_one(spec, args, threads, position):
    if spec.shift == 2:
        raise RuntimeError("no such data")
    return fake_run_one(spec, args, threads, position)


def _args(out) -> argparse.Namespace:
    return argparse.Namespace(
        out=str(out),
        backend="loky",
        n_jobs=1,
        threads_per_run=3,
        quiet=True,
        scheduler=None,
        ray_address=None,
        devices=None,
        device="cpu",
    )


def test_run_all_runs_the_given_function_and_writes_each_run(tmp_path):
    todo = [RunSpec("ce", shift, 0) for shift in (1, 2)]
    assert driver.run_all(todo, len(todo), _args(tmp_path), fake_run_one) == 0
    runs = load_runs(tmp_path, "ce")
    assert [(r.shift, r.accuracy[0, 0]) for r in runs] == [(1, 0.6), (2, 0.7)]
    assert all(r.config["threads"] == 3 and r.config["worker"] for r in runs)


def test_a_failing_run_is_reported_and_the_others_kept(tmp_path, capsys):
    todo = [RunSpec("ce", shift, 0) for shift in (1, 2)]
    assert driver.run_all(todo, len(todo), _args(tmp_path), failing_run_one) == 1
    assert [r.shift for r in load_runs(tmp_path, "ce")] == [1]
    err = capsys.readouterr().err
    assert "ce shift 2 slot 0 failed on" in err
    assert "proglearn-supcon run: error: 1 of 2 runs failed; rerun the same command" in err


def test_worker_processes_get_the_function(tmp_path):
    """With two loky processes the module-level function is pickled to the workers and run there."""
    args = _args(tmp_path)
    args.n_jobs, args.threads_per_run = 2, 1
    todo = [RunSpec("supcon", shift, 0) for shift in (1, 2)]
    assert driver.run_all(todo, len(todo), args, fake_run_one) == 0
    assert sorted(r.shift for r in load_runs(tmp_path, "supcon")) == [1, 2]


def fake_run_two(spec, args, threads, position):
    """A run function that returns two results sharing their training, as a rotation repetition does."""
    return [fake_run_one(RunSpec(spec.variant, spec.shift, slot), args, threads, position) for slot in (0, 1)]


def test_a_unit_of_several_results_writes_each(tmp_path):
    todo = [RunSpec("ce", shift, 0) for shift in (1, 2)]
    assert driver.run_all(todo, len(todo), _args(tmp_path), fake_run_two) == 0
    runs = load_runs(tmp_path, "ce")
    assert [(r.shift, r.slot) for r in runs] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert all(r.config["worker"] and r.config["finished_at"] >= r.config["started_at"] for r in runs)


def test_sequential_runs_use_the_cores_of_the_process_unless_omp_num_threads_is_set(monkeypatch):
    from proglearn_supcon.runs import parallel

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(parallel, "available_cores", lambda: 3)
    assert parallel.sequential_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert parallel.sequential_threads() is None  # torch follows the user's setting


def test_a_busy_machine_is_said_in_one_line_before_training(tmp_path, monkeypatch, capsys):
    from proglearn_supcon.runs import parallel

    monkeypatch.setattr(parallel, "load_average", lambda: 0.4)
    assert parallel.busy_cores_warning(2) is None
    monkeypatch.setattr(parallel, "load_average", lambda: 3.7)
    warning = parallel.busy_cores_warning(2)
    assert warning.startswith("warning: the machine is busy (1-minute load average 3.7") and "\n" not in warning
    assert "training with 2 threads" in warning and "--threads-per-run 1" in warning

    args = _args(tmp_path)
    args.device = "cpu"
    assert driver.run_all([RunSpec("ce", 1, 0)], 1, args, fake_run_one) == 0
    assert capsys.readouterr().err.count("warning: the machine is busy") == 1
