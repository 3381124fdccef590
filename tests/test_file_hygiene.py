"""Files as users expect them (issue 29, item 6): permissions, values in range, one-line write errors."""

from __future__ import annotations

import json
import os
import stat

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from proglearn_supcon import cli  # noqa: E402
from proglearn_supcon.experiments import driver  # noqa: E402
from proglearn_supcon.fileio import atomic_write_text, current_umask  # noqa: E402
from proglearn_supcon.persistence import save_object  # noqa: E402
from proglearn_supcon.runs.results import CorruptResultsError, read_run, write_run  # noqa: E402
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult  # noqa: E402


def _run(variant="ce", shift=1) -> RunResult:
    acc = np.array([[0.8, np.nan], [0.8, 0.7]])
    tasks = {name: np.full(2, 0.5) for name in TASK_FIELDS}
    return RunResult(variant, "digits", shift, 0, acc, tasks, {"n_test_per_task": 50})


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_current_umask_reads_without_changing_it():
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027 and current_umask() == 0o027
    finally:
        os.umask(old)


def test_results_and_models_honour_the_umask(tmp_path, umask_022):
    path = write_run(tmp_path, _run())
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    model = tmp_path / "model.pt"
    save_object({"weights": [1, 2]}, model)
    assert stat.S_IMODE(model.stat().st_mode) == 0o644
    os.umask(0o077)
    atomic_write_text(tmp_path / "private.txt", "x")
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda p: p["accuracy"][0].update(accuracy=7.5), "accuracy 7.5 is out of range (must be [0, 1])"),
        (lambda p: p["tasks"][1].update(train_time_s=-3.0), "train_time_s -3 is out of range"),
        (lambda p: p["tasks"][0].update(single_task_accuracy=-0.1), "single_task_accuracy -0.1 is out of range"),
    ],
)
def test_values_out_of_range_make_a_corrupt_file_that_is_redone(edit, named, tmp_path, capsys):
    path = write_run(tmp_path, _run())
    payload = json.loads(path.read_text())
    edit(payload)
    path.write_text(json.dumps(payload))
    with pytest.raises(CorruptResultsError) as info:
        read_run(path)
    assert str(info.value).endswith(f"is not a valid results file: {named}") or named in str(info.value)
    assert driver.read_finished(path) is None  # not finished: moved aside, to be redone
    assert not path.exists() and path.with_name(path.name + ".corrupt").exists()
    assert "will redo the run" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("command", ["plot", "compare"])
def test_figure_write_errors_are_one_line_and_exit_2(command, tmp_path, capsys):
    root = tmp_path / "results"
    for variant in ("supcon", "ce"):
        for shift in (1, 2):
            write_run(root, _run(variant, shift))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the figure's folder should be")
    out = blocked / "figure.png"
    args = {"plot": ["--variant", "ce"], "compare": ["--a", "supcon", "--b", "ce"]}[command]
    assert cli.main([command, "--results", str(root), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"proglearn-supcon {command}: error: cannot write {blocked}") and err.count("\n") == 1
