"""Per-task checkpoints of long runs (issue 29, item 5): a killed run resumes after its last task, same results."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from proglearn_supcon.experiments import driver, run_record, sequence
from proglearn_supcon.experiments.checkpoints import (
    RunCheckpoint,
    checkpoint_path,
    progress_path,
    read_progress,
    remove_checkpoint,
)
from proglearn_supcon.runs.results import _RUN_NAME, folder_runs, list_variants

REPO = Path(__file__).resolve().parents[1]

#: Fields that measure time or memory of the process that ran them, or say how the run went.
NOT_COMPARED = {
    "train_time_s",
    "single_task_inference_time_s",
    "multitask_inference_time_s",
    "decider_time_s",
    "peak_memory_mb",
    "started_at",
    "finished_at",
    "checkpoint_write_s",
    "resumed_from_task",
    "worker",
    "out",
}


def _differences(a, b, path="") -> list[str]:
    """Where two results files' JSON differ, but for :data:`NOT_COMPARED`."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for key in sorted(set(a) | set(b))
            if key not in NOT_COMPARED
            for d in (
                _differences(a[key], b[key], f"{path}/{key}") if key in a and key in b else [f"{path}/{key} missing"]
            )
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same else [f"{path}: {a!r} != {b!r}"]


def test_checkpoint_files_are_never_results(tmp_path):
    results = tmp_path / "ce" / "shift1_slot0.json"
    assert checkpoint_path(results).name == "shift1_slot0.checkpoint"
    assert progress_path(results).name == "shift1_slot0.progress"
    for path in (checkpoint_path(results), progress_path(results)):
        assert not _RUN_NAME.match(path.name)
    checkpoint_path(results).mkdir(parents=True)
    (checkpoint_path(results) / "state.pt").write_bytes(b"x")
    progress_path(results).write_text("3 5\n")
    assert folder_runs(tmp_path) == []
    assert list_variants(tmp_path) == []
    assert read_progress(results) == (3, 5)
    remove_checkpoint(results)
    assert not checkpoint_path(results).exists() and not progress_path(results).exists()
    assert read_progress(results) is None
    remove_checkpoint(results)  # nothing left: no error


def test_list_says_where_an_interrupted_run_resumes(tmp_path, capsys):
    spec = run_record.RunSpec("ce", 1, 0)
    progress_path(spec.path(tmp_path)).parent.mkdir(parents=True)
    progress_path(spec.path(tmp_path)).write_text("12 20\n")

    class Args:
        out = tmp_path

    assert driver.list_runs([spec, run_record.RunSpec("ce", 2, 0)], Args) == 0
    out = capsys.readouterr().out
    assert "ce shift 1 slot 0  (resumes after task 12 of 20)" in out
    assert "ce shift 2 slot 0\n" in out


def _feature_tasks(n_tasks: int):
    from proglearn_supcon.datasets import Task

    rng = np.random.default_rng(0)
    tasks = []
    for t in range(n_tasks):
        centres, classes = rng.normal(0, 3, size=(2, 10)), np.array([2 * t, 2 * t + 1])
        y, y_test = np.repeat(classes, 20), np.repeat(classes, 10)
        X = (centres[y - 2 * t] + rng.normal(size=(40, 10))).astype(np.float32)
        X_test = (centres[y_test - 2 * t] + rng.normal(size=(20, 10))).astype(np.float32)
        tasks.append(Task(task_id=t, X_train=X, y_train=y, X_test=X_test, y_test=y_test, classes=classes))
    return tasks


def _net(decider="average"):
    from proglearn_supcon import LifelongClassificationNetwork

    params = dict(epochs=2, batch_size=16, validation_fraction=0.0, early_stopping="none", device="cpu")
    return LifelongClassificationNetwork(random_state=0, decider=decider, **params)


@pytest.mark.slow
def test_a_resumed_record_equals_an_uninterrupted_one_under_every_decider(tmp_path):
    from proglearn_supcon.runs.memory import PeakMemory

    tasks = _feature_tasks(4)
    whole = sequence.learn_tasks(_net("em"), tasks, "whole", True, 0, PeakMemory())

    # First process: saves after each task and is "killed" after task 1.
    checkpoint = RunCheckpoint(tmp_path / "ce" / "shift1_slot0.json", {"run": 1})
    net = _net("em")

    def stop_after_1(t, record):
        checkpoint.save(net, record, t + 1, len(tasks))
        if t == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sequence.learn_tasks(net, tasks, "first", True, 0, PeakMemory(), after_task=stop_after_1)
    assert read_progress(checkpoint.results_path) == (2, 4)
    assert sorted(p.name for p in checkpoint.path.iterdir()) == ["part0.pt", "part1.pt", "state.pt"]

    # Another settings' checkpoint is not resumed.
    assert RunCheckpoint(checkpoint.results_path, {"run": 2}).resume() is None

    resumed = RunCheckpoint(checkpoint.results_path, {"run": 1})
    net, fields, first, peak = resumed.resume()
    assert first == 2 and peak > 0
    record = run_record.TaskRecord(**fields)
    record = sequence.learn_tasks(
        net,
        tasks,
        "resumed",
        True,
        0,
        PeakMemory(),
        record=record,
        first_task=first,
        after_task=lambda t, rec: resumed.save(net, rec, t + 1, len(tasks)),
    )
    np.testing.assert_array_equal(record.accuracy, whole.accuracy)
    for name, matrix in whole.decider_accuracy.items():
        np.testing.assert_array_equal(record.decider_accuracy[name], matrix, err_msg=name)
    for field in ("single_task_accuracy", "n_epochs_run", "best_epoch", "val_accuracy"):
        np.testing.assert_array_equal(record.per_task[field], whole.per_task[field], err_msg=field)
    # The peak memory never goes below what the first process recorded.
    assert (np.diff(record.per_task["peak_memory_mb"]) >= 0).all()
    # Each task's frozen part was written once; the resumed process added parts 2 and 3.
    parts = sorted(p.name for p in resumed.path.iterdir())
    assert parts == ["part0.pt", "part1.pt", "part2.pt", "part3.pt", "state.pt"]


def _run(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "proglearn_supcon.cli",
        "run",
        "--dataset",
        "digits",
        "--n-tasks",
        "5",
        "--epochs",
        "2",
        "--variant",
        "ce",
        "--quiet",
        "--device",
        "cpu",
        "--threads-per-run",
        "1",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_a_run_killed_after_a_task_resumes_there_and_writes_the_uninterrupted_results(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_run(whole), env=env, check=True, capture_output=True, timeout=300)

    process = subprocess.Popen(_run(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = progress_path(run_record.RunSpec("ce", 1, 0).path(killed))
    try:
        deadline = time.monotonic() + 300
        while (read_progress(progress.with_suffix(".json")) or (0, 0))[0] < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before its second task"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    results = run_record.RunSpec("ce", 1, 0).path(killed)
    assert not results.exists() and checkpoint_path(results).is_dir()
    done, total = read_progress(results)
    assert total == 5 and 2 <= done < 5

    listed = subprocess.run(_run(killed, "--list"), env=env, capture_output=True, text=True, timeout=120)
    assert f"(resumes after task {done} of 5)" in listed.stdout

    subprocess.run(_run(killed), env=env, check=True, capture_output=True, timeout=300)
    # The checkpoint is gone with the results written.
    assert not checkpoint_path(results).exists() and not progress_path(results).exists()
    a = json.loads(run_record.RunSpec("ce", 1, 0).path(whole).read_text())
    b = json.loads(results.read_text())
    assert _differences(a, b) == []
    assert b["config"]["resumed_from_task"] == done and "resumed_from_task" not in a["config"]
    assert np.isfinite(b["config"]["checkpoint_write_s"])


def test_the_driver_bar_shows_the_tasks_of_runs_in_flight(tmp_path, monkeypatch):
    shown = []

    class Bar:
        def set_postfix_str(self, text):
            shown.append(text)

    monkeypatch.setattr(driver._TaskProgress, "POLL_S", 0.02)
    paths = [run_record.RunSpec("ce", shift, 0).path(tmp_path) for shift in (1, 2, 3)]
    paths[0].parent.mkdir(parents=True)
    progress_path(paths[0]).write_text("12 20\n")
    progress_path(paths[1]).write_text("7 20\n")
    watcher = driver._TaskProgress(Bar(), paths)
    try:
        deadline = time.monotonic() + 10
        while "tasks 12/20 7/20" not in shown and time.monotonic() < deadline:
            time.sleep(0.01)
        paths[0].write_text("{}")  # run 1 written: its count goes
        while shown[-1] != "tasks 7/20" and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        watcher.stop()
    assert "tasks 12/20 7/20" in shown and shown[-1] == "tasks 7/20"
