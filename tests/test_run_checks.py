"""Every run's settings are checked before the first run trains (issue 29, item 4)."""

from __future__ import annotations

import pytest

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import sequence
from proglearn_supcon.experiments.run_checks import check_run_settings
from proglearn_supcon.experiments.run_record import RunSpec

TINY = ["--dataset", "digits", "--n-tasks", "2", "--epochs", "1", "--quiet", "--device", "cpu"]


@pytest.fixture
def no_training(monkeypatch):
    """The runs ``exp.main`` would train, recorded instead of trained (a test expecting none asserts it)."""
    calls = []

    def record(spec, *rest):
        calls.append(spec)
        raise AssertionError(f"{spec.describe()} trained")

    monkeypatch.setattr(sequence, "run_one", record)
    return calls


@pytest.mark.parametrize(
    "options, named",
    [
        (["--shifts", "1,9"], "--shifts 9 does not fit digits: shift must be in 1..6"),
        (["--slots", "0,3"], "--slots 3 does not fit digits: slot must be in 0..1"),
        (["--threads-per-run", "0"], "--threads-per-run must be at least 1; got 0"),
        (["--n-tasks", "6"], "digits: 6 tasks x 2 classes need 12 classes; the data has 10"),
        (["--n-train-per-task", "7"], "digits: n_train_per_task=7 must be a multiple of classes_per_task=2"),
    ],
)
def test_a_bad_run_setting_is_one_line_before_any_training(options, named, tmp_path, capsys, no_training):
    out = tmp_path / "out"
    assert exp.main([*TINY, "--variant", "ce", *options, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"proglearn-supcon run: error: {named}") and err.count("\n") == 1
    assert no_training == [] and not out.exists()


def test_cifar_slots_are_checked_without_the_data(tmp_path):
    """The official CIFAR class sizes are known, so a driver without the files can check the runs."""
    args = exp.build_parser().parse_args(["--dataset", "cifar100", "--data-dir", str(tmp_path / "none")])
    assert check_run_settings([RunSpec("ce", s, k) for s in range(1, 7) for k in range(10)], args) is None
    problem = check_run_settings([RunSpec("ce", 1, 10)], args)
    assert problem.startswith("--slots 10 does not fit cifar100: slot must be in 0..9")
