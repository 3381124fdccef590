"""One writer per results folder (issue 29, items 2 and 6: the lock, Ctrl-C)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import sequence
from proglearn_supcon.runs.folder_lock import LOCK_NAME, FolderLockedError, hold_folder
from proglearn_supcon.runs.results import run_path
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

REPO = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "digits", "--n-tasks", "2", "--epochs", "1", "--quiet", "--device", "cpu"]
HOLD = "import sys, time\nfrom proglearn_supcon.runs.folder_lock import hold_folder\nwith hold_folder(sys.argv[1]):\n"


def fake_run_one(spec, args, threads, position):
    accuracy = np.tril(np.full((2, 2), 0.5))
    return RunResult(spec.variant, "digits", spec.shift, spec.slot, accuracy, {n: np.full(2, 0.5) for n in TASK_FIELDS})


@pytest.fixture
def holder(tmp_path):
    """A second process holding ``tmp_path / "out"`` until killed."""
    out = tmp_path / "out"
    out.mkdir()
    code = HOLD + "    print('held', flush=True)\n    time.sleep(120)\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout.readline().strip() == "held"
        yield out, process
    finally:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_a_second_run_on_a_held_folder_exits_2_naming_the_holder(holder, capsys, monkeypatch):
    out, process = holder
    calls = []
    monkeypatch.setattr(sequence, "run_one", lambda spec, *rest: calls.append(spec) or fake_run_one(spec, *rest))
    assert exp.main([*TINY, "--variant", "ce", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"proglearn-supcon run: error: {out} is in use by another run (pid {process.pid} on ")
    assert "started " in err and "--wait" in err and err.count("\n") == 1
    assert calls == [] and not run_path(out, "ce", 1, 0).exists()
    process.kill()
    process.wait()
    # The lock died with its holder: the folder is free again.
    assert exp.main([*TINY, "--variant", "ce", "--out", str(out)]) == 0 and len(calls) == 1


@pytest.mark.slow
def test_wait_starts_when_the_holder_ends(holder, capsys, monkeypatch):
    out, process = holder
    monkeypatch.setattr(sequence, "run_one", fake_run_one)
    threading.Timer(1.0, process.kill).start()
    assert exp.main([*TINY, "--variant", "ce", "--out", str(out), "--wait"]) == 0
    assert f"waiting for pid {process.pid}" in capsys.readouterr().err
    assert run_path(out, "ce", 1, 0).exists()


def test_the_lock_file_names_its_holder(tmp_path):
    with hold_folder(tmp_path) as path:
        assert path == tmp_path / LOCK_NAME and path.read_text().startswith(f"pid {os.getpid()} on ")
        with pytest.raises(FolderLockedError, match=f"in use by another run \\(pid {os.getpid()} "):
            with hold_folder(tmp_path):  # a second open file description: flock refuses it too
                pass
    with hold_folder(tmp_path):  # released at the end of the block
        pass


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    def interrupted(spec, *rest):
        if spec.variant == "tcl":
            raise KeyboardInterrupt
        return fake_run_one(spec, *rest)

    monkeypatch.setattr(sequence, "run_one", interrupted)
    out = tmp_path / "out"
    assert exp.main([*TINY, "--variant", "ce", "tcl", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err == f"interrupted; 1 finished runs kept in {out}\n"
    with hold_folder(out):  # and the folder was let go
        pass
