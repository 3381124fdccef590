"""One contract per results folder: same data, same recipe per variant, checked before training (issue 29)."""

from __future__ import annotations

import shutil

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from proglearn_supcon import cli  # noqa: E402
from proglearn_supcon.experiments import cifar_task_sequence as exp  # noqa: E402
from proglearn_supcon.experiments import sequence  # noqa: E402
from proglearn_supcon.runs.folder_contract import MixedDataError, check_one_data  # noqa: E402
from proglearn_supcon.runs.results import load_runs, run_path, write_run  # noqa: E402
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult  # noqa: E402

TINY = ["--dataset", "digits", "--n-tasks", "2", "--epochs", "1", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A folder made by one tiny run: ce, shift 1, slot 0 on the digits."""
    out = tmp_path_factory.mktemp("base") / "base"
    assert exp.main([*TINY, "--variant", "ce", "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy_of_base(base, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(base, out)
    return out


@pytest.fixture
def no_training(monkeypatch):
    calls = []
    monkeypatch.setattr(sequence, "run_one", lambda spec, *rest: calls.append(spec) or pytest.fail("trained"))
    return calls


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, named",
    [
        (
            ["--param", "lr=1e-3", "--param", "temperature=0.5"],
            "another recipe (the file's vs these: lr: 0.002 vs 0.001; temperature: 0.2 vs 0.5)",
        ),
        (["--epochs", "3"], "another recipe (the file's vs these: epochs: 1 vs 3)"),
        (["--n-tasks", "3"], "other data settings (the file's vs these: --n-tasks 2 vs 3)"),
        (
            ["--dataset", "digits-hard"],
            "other data settings (the file's vs these: --dataset digits vs digits-hard; data files ",
        ),
        (["--n-train-per-task", "50"], "other data settings (the file's vs these: --n-train-per-task 100 vs 50)"),
    ],
)
def test_a_rerun_with_other_settings_is_refused_before_training(options, named, copy_of_base, capsys, no_training):
    before = {p: p.stat().st_mtime_ns for p in copy_of_base.rglob("*.json")}
    argv = [*TINY, "--variant", "ce", "--shifts", "1-2", "--out", str(copy_of_base), *options]
    capsys.readouterr()
    assert exp.main(argv) == 2
    err = capsys.readouterr().err
    first = run_path(copy_of_base, "ce", 1, 0)
    assert err.startswith(f"proglearn-supcon run: error: {first} was made with {named}") and err.count("\n") == 1
    assert "another --out" in err
    assert no_training == [] and {p: p.stat().st_mtime_ns for p in copy_of_base.rglob("*.json")} == before


@pytest.mark.slow
def test_allow_mixed_recipes_keeps_its_meaning_for_run(copy_of_base, capsys, no_training):
    """With the flag, the finished run of the old recipe counts as finished and the summary pools it."""
    argv = [*TINY, "--variant", "ce", "--out", str(copy_of_base), "--epochs", "3", "--allow-mixed-recipes"]
    assert exp.main(argv) == 0 and no_training == []
    assert "1 of 1 runs already finished" in capsys.readouterr().out


@pytest.mark.slow
def test_resuming_with_another_job_count_warns(copy_of_base, capsys, no_training):
    assert exp.main([*TINY, "--variant", "ce", "--out", str(copy_of_base), "--n-jobs", "2"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "--n-jobs 1" in warnings[0] and "arithmetic" in warnings[0]


def _run(variant, shift, dataset="digits", n_train=100) -> RunResult:
    acc = np.array([[0.8, np.nan], [0.8, 0.7]])
    tasks = {name: np.full(2, 1.0) for name in TASK_FIELDS}
    config = {"n_test_per_task": 50, "n_train_per_task": n_train, "n_classes_per_task": 2}
    return RunResult(variant, dataset, shift, 0, acc, tasks, config)


@pytest.mark.parametrize(
    "command",
    [
        ["summary", "--variants", "supcon", "ce"],
        ["compare", "--a", "supcon", "--b", "ce", "--out", "{tmp}/d.png"],
        ["plot", "--variant", "ce", "--out", "{tmp}/p.png"],
    ],
)
@pytest.mark.parametrize("change", [{"dataset": "digits-hard"}, {"n_train": 50}])
def test_readers_refuse_a_folder_of_runs_on_different_data(command, change, tmp_path, capsys):
    root = tmp_path / "results"
    for variant in ("supcon", "ce"):
        write_run(root, _run(variant, 1))
        write_run(root, _run(variant, 2, **change))
    argv = [command[0], "--results", str(root), *(a.format(tmp=tmp_path) for a in command[1:])]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"proglearn-supcon {command[0]}: error: ") and captured.err.count("\n") == 1
    assert "were made on different data" in captured.err and captured.out == ""


def test_one_variant_on_other_data_is_refused_too(tmp_path):
    """Variants are compared with each other: ce on digits-hard does not pair with supcon on digits."""
    write_run(tmp_path, _run("supcon", 1))
    write_run(tmp_path, _run("ce", 1, dataset="digits-hard"))
    with pytest.raises(MixedDataError, match="--dataset digits-hard vs digits"):
        load_runs(tmp_path, "supcon")


def test_settings_a_file_does_not_record_are_unknown_not_different():
    old = _run("ce", 1)
    old.config = {}  # written before the data settings were recorded
    check_one_data([old, _run("ce", 2), _run("ce", 3, n_train=100)], ["a", "b", "c"])
    with pytest.raises(MixedDataError, match="b and c were made on different data"):
        check_one_data([old, _run("ce", 2), _run("ce", 3, n_train=50)], ["a", "b", "c"])
