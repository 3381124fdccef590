"""Write errors: found before training where possible, and never a finished run thrown away (issue 29, item 3)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import driver, sequence
from proglearn_supcon.experiments.run_record import RunSpec
from proglearn_supcon.runs.results import read_run, run_path
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

TINY = ["--dataset", "digits", "--n-tasks", "2", "--epochs", "1", "--quiet", "--device", "cpu"]


@pytest.fixture
def no_training(monkeypatch):
    calls = []
    monkeypatch.setattr(sequence, "run_one", lambda spec, *rest: calls.append(spec) or pytest.fail("trained"))
    return calls


@pytest.mark.parametrize("where", ["out", "variant"])
def test_a_results_folder_that_is_a_file_is_refused_before_training(where, tmp_path, capsys, no_training):
    out = tmp_path / "afile"
    if where == "out":
        out.write_text("not a folder")
        blocked = out
    else:
        blocked = out / "ce"
        blocked.parent.mkdir()
        blocked.write_text("not a folder")
    assert exp.main([*TINY, "--variant", "ce", "tcl", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"proglearn-supcon run: error: cannot use {blocked} as a results folder: ")
    assert err.endswith("it, or a folder above it, is a file\n") and err.count("\n") == 1
    assert no_training == []


def fake_run_one(spec, args, threads, position):
    accuracy = np.tril(np.full((2, 2), 0.5))
    return RunResult(spec.variant, "digits", spec.shift, spec.slot, accuracy, {n: np.ones(2) for n in TASK_FIELDS})


def test_a_result_that_cannot_be_written_is_kept_elsewhere_and_the_sweep_goes_on(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(driver.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    real_write_run = driver.write_run

    def disk_full_for_ce(out, run):
        if run.variant == "ce" and str(out).startswith(str(tmp_path / "results")):
            raise OSError(28, "No space left on device")
        return real_write_run(out, run)

    monkeypatch.setattr(driver, "write_run", disk_full_for_ce)
    out = tmp_path / "results"
    args = argparse.Namespace(
        out=str(out),
        backend="loky",
        n_jobs=1,
        threads_per_run=1,
        quiet=True,
        scheduler=None,
        ray_address=None,
        devices=None,
        device="cpu",
    )
    todo = [RunSpec("ce", 1, 0), RunSpec("tcl", 1, 0)]
    assert driver.run_all(todo, 2, args, fake_run_one) == 1
    err = capsys.readouterr().err
    kept = driver.fallback_dirs()[0] / "ce" / "shift1_slot0.json"
    assert (
        f"could not write {run_path(out, 'ce', 1, 0)} ([Errno 28] No space left on device); kept the result in {kept}"
        in err
    )
    assert read_run(kept).variant == "ce"  # the finished run, kept
    assert read_run(run_path(out, "tcl", 1, 0)).variant == "tcl"  # and the next run still ran and was written
    assert f"proglearn-supcon run: error: could not write {run_path(out, 'ce', 1, 0)}" in err
    assert "proglearn-supcon run: error: 1 finished runs could not be written" in err
