"""Corrupt results files: named in every error, moved aside and redone by the experiment."""

from __future__ import annotations

import json
import pickle

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from proglearn_supcon import cli  # noqa: E402
from proglearn_supcon.experiments import cifar_task_sequence as exp  # noqa: E402
from proglearn_supcon.experiments import (
    driver,  # noqa: E402
    sequence,  # noqa: E402
)
from proglearn_supcon.runs.results import (  # noqa: E402
    CorruptResultsError,
    from_payload,
    load_runs,
    move_aside,
    read_run,
    run_path,
    to_payload,
    write_run,
)
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult  # noqa: E402

TINY = ["--dataset", "digits", "--n-tasks", "2", "--epochs", "1", "--quiet", "--device", "cpu"]


def _run(variant="ce", shift=1, slot=0, dataset="synthetic") -> RunResult:
    acc = np.array([[0.8, np.nan], [0.8, 0.7]])
    tasks = {name: np.full(2, 1.0) for name in TASK_FIELDS}
    return RunResult(variant, dataset, shift, slot, acc, tasks, {"n_test_per_task": 50})


def truncate(path):
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def drop_field(path, name="accuracy"):
    payload = json.loads(path.read_text())
    del payload[name]
    path.write_text(json.dumps(payload))


CORRUPTIONS = {
    "truncated": truncate,
    "empty": lambda path: path.write_bytes(b""),
    "bad utf-8": lambda path: path.write_bytes(b'{"schema": 1, "variant": "\xff"}'),
    "not an object": lambda path: path.write_text("[1, 2]"),
    "missing field": drop_field,
    "wrong type": lambda path: path.write_text(path.read_text().replace('"n_tasks": 2', '"n_tasks": "two"')),
    "no schema": lambda path: drop_field(path, "schema"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_read_run_names_the_corrupt_file(corruption, tmp_path):
    path = write_run(tmp_path, _run())
    CORRUPTIONS[corruption](path)
    with pytest.raises(CorruptResultsError) as info:
        read_run(path)
    assert isinstance(info.value, ValueError) and info.value.path == str(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not a valid results file: ") and "\n" not in message
    with pytest.raises(CorruptResultsError, match="not a valid results file"):
        load_runs(tmp_path, "ce")


def test_missing_field_is_named():
    payload = to_payload(_run())
    del payload["slot"]
    with pytest.raises(
        CorruptResultsError, match=r"shift1_slot0\.json is not a valid results file: missing field 'slot'"
    ):
        from_payload(payload, source="results/ce/shift1_slot0.json")


def test_error_survives_pickling():
    error = pickle.loads(pickle.dumps(CorruptResultsError("a.json", "truncated")))
    assert (error.path, error.reason, str(error)) == (
        "a.json",
        "truncated",
        "a.json is not a valid results file: truncated",
    )


def test_move_aside_never_overwrites(tmp_path):
    path = tmp_path / "shift1_slot0.json"
    moved = []
    for text in ("first", "second", "third"):
        path.write_text(text)
        moved.append(move_aside(path))
    assert [p.name for p in moved] == [
        "shift1_slot0.json.corrupt",
        "shift1_slot0.json.corrupt.1",
        "shift1_slot0.json.corrupt.2",
    ]
    assert [p.read_text() for p in moved] == ["first", "second", "third"] and not path.exists()


def test_list_shows_a_corrupt_run_as_to_do_and_moves_nothing(tmp_path, capsys):
    good = write_run(tmp_path, _run(shift=1))
    bad = write_run(tmp_path, _run(shift=2))
    truncate(bad)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert exp.main([*TINY, "--variant", "ce", "--shifts", "1-2", "--list", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    finished, todo = captured.out.split("to do")
    assert str(good) in finished and "ce shift 2 slot 0" in todo and "ce shift 2" not in finished
    assert f"warning: {bad} is not a valid results file" in captured.err and "will be redone" in captured.err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # --list changes nothing on disk


def test_a_corrupt_file_moved_by_another_process_meanwhile_is_not_an_error(tmp_path, monkeypatch):
    """Two processes reading one corrupt file: the second one's rename finds it gone."""
    bad = write_run(tmp_path, _run(shift=2))
    truncate(bad)

    def moved_by_the_other_process(path):
        move_aside(path)
        raise FileNotFoundError(path)

    monkeypatch.setattr(driver, "move_aside", lambda path: moved_by_the_other_process(path))
    assert driver.read_finished(bad) is None
    assert driver.read_finished(bad) is None  # and once it is gone


@pytest.mark.slow
def test_corrupt_runs_are_moved_aside_and_redone(tmp_path, capsys, monkeypatch):
    """A truncated file, then one missing a field: each is named, kept under a fresh name, and its run redone."""
    argv = [*TINY, "--variant", "ce", "--out", str(tmp_path)]
    assert exp.main(argv) == 0
    path = run_path(tmp_path, "ce", 1, 0)
    calls = []
    real_run_one = sequence.run_one
    monkeypatch.setattr(sequence, "run_one", lambda spec, *rest: calls.append(spec) or real_run_one(spec, *rest))
    for corrupt, aside in ((truncate, ".corrupt"), (drop_field, ".corrupt.1")):
        corrupt(path)
        before = path.read_bytes()
        capsys.readouterr()
        assert exp.main(argv) == 0
        err = capsys.readouterr().err
        moved = path.with_name(path.name + aside)
        assert f"warning: {path} is not a valid results file" in err and f"moved it to {moved}" in err
        assert moved.read_bytes() == before  # kept as it was
        assert read_run(path).n_tasks == 2  # redone
    assert len(calls) == 2
    assert exp.main(argv) == 0 and len(calls) == 2  # nothing left to redo


def _figure_commands(root, out):
    return {
        "compare": ["compare", "--results", str(root), "--a", "supcon", "--b", "ce", "--out", str(out / "d.png")],
        "geometry": ["geometry", "--results", str(root), "--a", "supcon", "--b", "ce", "--out", str(out / "g.png")],
        "plot": ["plot", "--results", str(root), "--variant", "ce", "--out", str(out / "p.png")],
        "summary": ["summary", "--results", str(root), "--variants", "supcon", "ce"],
    }


@pytest.mark.parametrize("corruption", ["truncated", "missing field", "bad utf-8"])
@pytest.mark.parametrize("command", ["compare", "geometry", "plot", "summary"])
def test_figure_and_summary_commands_name_the_corrupt_file(command, corruption, tmp_path, capsys):
    root = tmp_path / "results"
    for variant in ("supcon", "ce"):
        for shift in (1, 2):
            write_run(root, _run(variant, shift))
    bad = run_path(root, "ce", 2, 0)
    CORRUPTIONS[corruption](bad)
    assert cli.main(_figure_commands(root, tmp_path)[command]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert captured.err.startswith(f"proglearn-supcon {command}: error: {bad} is not a valid results file: ")
    assert bad.exists()  # the figures only read; moving aside is the experiment's job


def test_end_of_run_summary_names_a_corrupt_file_it_was_not_asked_to_redo(tmp_path, capsys):
    # On the run's data set: a folder of runs on other data is refused before the summary.
    write_run(tmp_path, _run(shift=1, dataset="digits"))
    other = write_run(tmp_path, _run(shift=2, dataset="digits"))
    truncate(other)
    assert exp.main([*TINY, "--variant", "ce", "--shifts", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"proglearn-supcon run: error: {other} is not a valid results file") and err.count("\n") == 1
