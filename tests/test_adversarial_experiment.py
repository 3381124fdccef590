"""The adversarial protocols through the experiment: ``proglearn-supcon run --protocol label-shuffle|rotation``.

The tests that train use the digits, one epoch and one torch thread, and spy
on the estimator to check what the experiment recorded against the networks
it trained.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.datasets import rotate_images, task_sequence
from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import rotation
from proglearn_supcon.runs.results import read_run, run_path, write_run
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

N_TEST_ROTATION = 300  # the digits: 30 test images per class, 10 classes


def error(accuracy, n):
    """The smoothed error written out: (mistakes + 1) / (n + 2)."""
    return (n * (1 - accuracy) + 1) / (n + 2)


@pytest.fixture
def rotation_args(tiny_run_args):
    """``rotation_args(*extra)``: a tiny rotation run on the digits, 10 training images per class and task."""
    return lambda *extra: tiny_run_args(
        "--protocol", "rotation", *extra, n_tasks=None, n_train_per_task=100, threads_per_run=1
    )


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything trains."""

    def refuse(*args, **kwargs):
        raise AssertionError("nothing may train here")

    monkeypatch.setattr(LifelongClassificationNetwork, "add_task", refuse)
    monkeypatch.setattr(LifelongClassificationNetwork, "add_transformer", refuse)


@pytest.fixture
def spy(monkeypatch):
    """Records ``(method, network, X, id)`` of every add_task and add_transformer, then runs the real method."""
    calls = []
    for name, key in (("add_task", "task_id"), ("add_transformer", "transformer_id")):
        real = getattr(LifelongClassificationNetwork, name)

        def recorded(self, X, y, real=real, name=name, key=key, **kwargs):
            calls.append((name, self, X, kwargs.get(key)))
            return real(self, X, y, **kwargs)

        monkeypatch.setattr(LifelongClassificationNetwork, name, recorded)
    return calls


def _exit_status(argv) -> int:
    try:
        return exp.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--protocol", "spiral"], "argument --protocol: invalid choice: 'spiral'"),
        (["--protocol", "rotation", "--angles", "0,400"], "angle must be a number of degrees in [0, 360]; got 400"),
        (["--protocol", "rotation", "--angles", "0-180:0"], "must be at least 1 degree"),
        (["--protocol", "rotation", "--angles", ""], "expected angles like"),
        (["--protocol", "rotation", "--repetitions", "0"], "no repetitions"),
        (["--protocol", "rotation", "--repetitions", "two"], "expected a number of repetitions"),
        (["--angles", "0,90"], "--angles is an option of --protocol rotation, not tenxten"),
        (["--protocol", "label-shuffle", "--repetitions", "3"], "--repetitions is an option of --protocol rotation"),
        (["--protocol", "label-shuffle", "--diagnostics"], "--diagnostics needs every task evaluated"),
        (["--protocol", "rotation", "--n-tasks", "3"], "--n-tasks does not apply to --protocol rotation"),
        (["--protocol", "label-shuffle", "--n-tasks", "1"], "needs at least 2 tasks"),
        (["--protocol", "rotation", "--n-train-per-task", "2000"], "has 178 images; the rotation protocol needs"),
    ],
)
def test_bad_protocol_arguments_stop_before_any_training(extra, message, tmp_path, capsys, no_training):
    argv = ["--dataset", "digits", "--quiet", "--device", "cpu", "--out", str(tmp_path), *extra]
    assert _exit_status(argv) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))


def test_rotation_runs_and_units():
    specs = rotation.rotation_specs(["supcon", "ce"], 2, [0, 90])
    assert [s.describe() for s in specs[:3]] == [
        "supcon repetition 1 angle 0",
        "ce repetition 1 angle 0",
        "supcon repetition 1 angle 90",
    ]
    assert len(specs) == 8 and {s.protocol for s in specs} == {"rotation"}
    assert specs[0].path("out").as_posix() == "out/supcon/repetition1_angle0.json"
    # The runs still to do, grouped so that each (variant, repetition) trains task 1 once.
    units = rotation.rotation_units([s for s in specs if (s.shift, s.slot) != (1, 0)])
    assert [(u.variant, u.repetition, u.angles) for u in units] == [
        ("supcon", 1, (90,)),
        ("ce", 1, (90,)),
        ("supcon", 2, (0, 90)),
        ("ce", 2, (0, 90)),
    ]
    assert units[2].describe() == "supcon repetition 2 angles 0, 90"
    for repetitions, angles, match in (
        (0, [0], "no repetitions"),
        (1, [], "no angles"),
        (1, [7.5], "whole degrees"),
        (1, [400], "in \\[0, 360\\]"),
    ):
        with pytest.raises(ValueError, match=match):
            rotation.rotation_specs(["ce"], repetitions, angles)


def test_list_names_the_rotation_runs(rotation_args, tmp_path, capsys, no_training):
    argv = rotation_args("--variant", "ce", "--angles", "0,45", "--repetitions", "2", "--out", tmp_path, "--list")
    assert exp.main(argv) == 0
    out = capsys.readouterr().out
    assert "to do (4 of 4):" in out and "  ce repetition 2 angle 45\n" in out


def test_results_of_another_protocol_are_not_taken_for_finished(tiny_run_args, tmp_path, capsys, no_training):
    tasks = {name: np.ones(2) for name in TASK_FIELDS}
    write_run(tmp_path, RunResult("ce", "digits", 1, 0, np.tril(np.full((2, 2), 0.5)), tasks, {}))  # a 10x10 run
    argv = tiny_run_args("--protocol", "label-shuffle", "--variant", "ce", "--out", tmp_path)
    assert exp.main(argv) == 2
    err = capsys.readouterr().err
    assert "was made by --protocol tenxten, not label-shuffle; give this protocol its own --out" in err


@pytest.mark.slow
def test_label_shuffle_run_matches_a_hand_computation(tiny_run_args, tmp_path, capsys, spy):
    argv = tiny_run_args(
        "--protocol", "label-shuffle", "--variant", "ce", "--out", tmp_path, n_tasks=3, threads_per_run=1
    )
    assert exp.main(argv) == 0
    assert [(name, task_id) for name, _, _, task_id in spy] == [("add_task", 0), ("add_task", 1), ("add_task", 2)]
    net = spy[0][1]
    plain = task_sequence("digits", n_tasks=3)
    # The network learned the images of the sequence, with tasks 2 and 3 labelled at random.
    for t, task in enumerate(plain):
        np.testing.assert_array_equal(net.learner_.tasks_[t].X, task.X_train)
        learned = net.learner_.tasks_[t].y
        assert sorted(learned) == sorted(task.y_train) and np.array_equal(learned, task.y_train) == (t == 0)

    run = read_run(run_path(tmp_path, "ce", 1, 0))
    assert run.protocol == "label-shuffle" and run.n_test_per_task == len(plain[0].y_test)
    assert np.isnan(run.accuracy[:, 1:]).all() and np.isnan(run.single_task_accuracy[1:]).all()  # task 1 only
    X_test, y_test, n = plain[0].X_test, plain[0].y_test, len(plain[0].y_test)
    # Task 1 after task k is task 1 voted on by transformers 0..k-1 (voters never change once fitted).
    accuracy = [np.mean(net.predict(X_test, 0, transformer_ids=range(k)) == y_test) for k in (1, 2, 3)]
    np.testing.assert_allclose(run.accuracy[:, 0], accuracy)
    assert run.single_task_accuracy[0] == accuracy[0]
    table = pd.read_csv(tmp_path / "label_shuffle_bte_summary.csv")
    bte = table[table["series"] == "ce"].set_index("x")["mean"]
    np.testing.assert_allclose(bte.loc[[1, 2, 3]], [error(accuracy[0], n) / error(a, n) for a in accuracy])
    assert "BTE of task 1 (label-shuffle" in capsys.readouterr().out

    spy.clear()
    assert exp.main(argv) == 0 and not spy  # finished: nothing trains again
    assert "1 of 1 runs already finished" in capsys.readouterr().out


@pytest.mark.slow
def test_rotation_run_adds_a_transformer_and_matches_a_hand_computation(rotation_args, tmp_path, capsys, spy):
    argv = rotation_args("--variant", "supcon", "--angles", "0,90", "--repetitions", "1", "--out", tmp_path)
    assert exp.main(argv) == 0
    # Task 1 once; then, per angle, a transformer and no new task.
    assert [(name, i) for name, _, _, i in spy] == [("add_task", 0), ("add_transformer", 1), ("add_transformer", 1)]
    args = exp.build_parser().parse_args(argv)
    task1, task2 = rotation.load_rotation_tasks(rotation.RotationUnit("supcon", 1, (0, 90)), args)
    assert len(task1.y_test) == N_TEST_ROTATION
    table = pd.read_csv(tmp_path / "rotation_bte_summary.csv").set_index(["series", "x"])
    for (_, net, X, _), angle in zip(spy[1:], (0, 90)):
        assert net.task_ids_ == [0] and net.transformer_ids_ == [0, 1]
        np.testing.assert_array_equal(X, rotate_images(task2.X_train, angle))  # task 2, rotated
        single = np.mean(net.predict(task1.X_test, 0, transformer_ids=[0]) == task1.y_test)
        both = np.mean(net.predict(task1.X_test, 0) == task1.y_test)
        run = read_run(run_path(tmp_path, "supcon", 1, angle, "rotation"))
        assert (run.accuracy[0, 0], run.accuracy[1, 0]) == (single, both)
        assert run.config["angle"] == angle and run.config["repetition"] == 1 and np.isnan(run.accuracy[1, 1])
        expected = error(single, N_TEST_ROTATION) / error(both, N_TEST_ROTATION)
        assert table.loc[("supcon", angle), "mean"] == pytest.approx(expected)
    assert "at 90 degrees" in capsys.readouterr().out

    # Resume: a damaged file is moved aside, and a new angle adds only its own runs.
    damaged = run_path(tmp_path, "supcon", 1, 90, "rotation")
    damaged.write_text("{not json")
    kept = run_path(tmp_path, "supcon", 1, 0, "rotation").read_bytes()
    spy.clear()
    assert (
        exp.main(rotation_args("--variant", "supcon", "--angles", "0,90,180", "--repetitions", "1", "--out", tmp_path))
        == 0
    )
    assert "moved it to" in capsys.readouterr().err and damaged.with_name(damaged.name + ".corrupt").exists()
    assert [(name, i) for name, _, _, i in spy] == [("add_task", 0), ("add_transformer", 1), ("add_transformer", 1)]
    assert run_path(tmp_path, "supcon", 1, 0, "rotation").read_bytes() == kept
    assert run_path(tmp_path, "supcon", 1, 180, "rotation").exists() and read_run(damaged).config["angle"] == 90


@pytest.mark.slow
def test_an_angle_does_not_depend_on_the_others_or_their_order(rotation_args):
    args = exp.build_parser().parse_args(rotation_args("--variant", "ce"))
    exp.check_protocol_arguments(args)
    outcomes = {
        angles: {r.slot: r for r in rotation.run_rotation(rotation.RotationUnit("ce", 1, angles), args, threads=1)}
        for angles in ((0, 90), (90, 0), (90,))
    }
    for angle in (0, 90):
        runs = [by_angle[angle] for by_angle in outcomes.values() if angle in by_angle]
        for other in runs[1:]:
            np.testing.assert_array_equal(other.accuracy, runs[0].accuracy)
            for name in ("val_accuracy", "best_epoch", "single_task_accuracy"):
                np.testing.assert_array_equal(other.tasks[name], runs[0].tasks[name])


@pytest.mark.slow
def test_an_interrupted_rotation_unit_keeps_its_finished_angles(rotation_args, tmp_path, capsys, spy, monkeypatch):
    argv = rotation_args("--variant", "ce", "--angles", "0,90", "--repetitions", "1", "--out", tmp_path)
    real_rotate = rotation.rotate_images

    def fail_at_90(images, angle):
        if angle == 90:
            raise RuntimeError("interrupted at 90 degrees")
        return real_rotate(images, angle)

    monkeypatch.setattr(rotation, "rotate_images", fail_at_90)
    assert exp.main(argv) == 1  # the unit failed ...
    assert "interrupted at 90 degrees" in capsys.readouterr().err
    first = run_path(tmp_path, "ce", 1, 0, "rotation")
    assert read_run(first).config["angle"] == 0  # ... but the angle it finished was written as it finished
    assert not run_path(tmp_path, "ce", 1, 90, "rotation").exists()
    kept = first.read_bytes()

    monkeypatch.setattr(rotation, "rotate_images", real_rotate)
    spy.clear()
    assert exp.main(argv) == 0
    assert "1 of 2 runs already finished" in capsys.readouterr().out
    # Only the missing angle trains (after task 1 again); the finished one is untouched.
    assert [(name, i) for name, _, _, i in spy] == [("add_task", 0), ("add_transformer", 1)]
    assert first.read_bytes() == kept
    second = read_run(run_path(tmp_path, "ce", 1, 90, "rotation")).config
    assert second["started_at"] <= second["finished_at"] and second["worker"] and second["device_slot"] is None
    assert "checkpoint_dir" not in second


def test_workers_write_their_runs_only_where_they_share_the_drivers_filesystem(tmp_path, monkeypatch):
    from proglearn_supcon.experiments import driver

    class InProcess:  # stands in for a backend, local or remote, without starting one
        def map_unordered(self, function, items):
            return (function(*item) for item in items)

    monkeypatch.setattr(driver, "open_backend", lambda *args, **kwargs: contextlib.nullcontext(InProcess()))
    seen = []

    def run_one(spec, args, threads, position):
        seen.append(args.checkpoint_dir)
        return []

    for backend, scheduler, n_jobs in (("loky", None, 1), ("loky", None, 2), ("dask", "tcp://elsewhere:8786", 2)):
        args = exp.build_parser().parse_args(["--out", str(tmp_path), "--quiet"])
        args.backend, args.scheduler, args.n_jobs = backend, scheduler, n_jobs
        assert driver.run_all(["unit"], 1, args, run_one) == 0
    # On this machine (sequential or loky workers) they write; a remote scheduler's workers do not.
    assert seen == [args.out, args.out, None]


@pytest.mark.slow
def test_a_parallel_rotation_run_shows_its_bar(rotation_args, tmp_path):
    # The driver's bar follows the per-task progress files of 10x10 runs;
    # rotation units have none (each angle is a file of its own). Asking a
    # unit for its run's path once crashed a shown, parallel rotation run
    # before its first angle (AttributeError: 'RotationUnit' ... 'path').
    argv = rotation_args("--angles", "0,90", "--repetitions", "1", "--variant", "ce", "--n-jobs", 2, "--out", tmp_path)
    assert exp.main([a for a in argv if a != "--quiet"]) == 0
    assert len(list((tmp_path / "ce").glob("*.json"))) == 2
