import json
from pathlib import Path

import numpy as np
import pytest

from proglearn_supcon.runs.results import (
    atomic_write_text,
    describe_run,
    list_variants,
    load_runs,
    read_run,
    run_keys,
    run_path,
    stack_runs,
    write_run,
)
from proglearn_supcon.runs.schema import DEFAULT_VIEW, TASK_FIELDS, Diagnostics, RunResult


def _run(variant="supcon", shift=1, slot=0, n_tasks=3, offset=0.0):
    acc = np.full((n_tasks, n_tasks), np.nan)
    for j in range(n_tasks):
        acc[j, : j + 1] = 0.5 + offset + 0.01 * np.arange(j + 1) + 0.02 * j
    # Each field its own values, all in range (accuracies in [0, 1]: out of range is a corrupt file).
    tasks = {name: (np.arange(n_tasks, dtype=float) + i) / 10 for i, name in enumerate(TASK_FIELDS)}
    return RunResult(variant, "digits", shift, slot, acc, tasks, {"epochs": 3}, "0.1.0")


def test_round_trip(tmp_path):
    run = _run()
    path = write_run(tmp_path, run)
    assert path == run_path(tmp_path, "supcon", 1, 0) == tmp_path / "supcon" / "shift1_slot0.json"
    back = read_run(path)
    np.testing.assert_array_equal(back.accuracy, run.accuracy)  # NaN above the diagonal survives
    for name in TASK_FIELDS:
        np.testing.assert_array_equal(back.tasks[name], run.tasks[name])
    assert back.config == {"epochs": 3} and back.library_version == "0.1.0"
    payload = json.loads(path.read_text())
    assert {"task": 2, "n_tasks_seen": 3, "accuracy": pytest.approx(0.56)} in payload["accuracy"]
    assert all(row["accuracy"] is not None for row in payload["accuracy"])  # tidy: only defined cells


def test_load_runs_sorted_and_stacked(tmp_path):
    for shift in (3, 1, 2):
        write_run(tmp_path, _run(shift=shift, offset=shift / 100))
    write_run(tmp_path, _run(variant="ce"))
    runs = load_runs(tmp_path, "supcon")
    assert [r.shift for r in runs] == [1, 2, 3]
    acc, single = stack_runs(runs)
    assert acc.shape == (3, 3, 3) and single.shape == (3, 3)
    assert list_variants(tmp_path) == ["ce", "supcon"]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_runs(tmp_path / "nope", "supcon")
    write_run(tmp_path, _run(variant="ce"))
    with pytest.raises(ValueError, match="no results for variant 'supcon'.*ce"):
        load_runs(tmp_path, "supcon")
    bad = run_path(tmp_path, "tcl", 1, 0)
    bad.parent.mkdir()
    bad.write_text(json.dumps({"schema": 1, "variant": "tcl"}))
    with pytest.raises(ValueError, match="not a valid results file"):
        load_runs(tmp_path, "tcl")
    with pytest.raises(ValueError, match="different numbers of tasks"):
        stack_runs([_run(n_tasks=2), _run(n_tasks=3)])


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic_write_text(path, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("proglearn_supcon.fileio.os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def _diagnostics(n_tasks=3):
    matrix = np.arange(n_tasks * n_tasks, dtype=float).reshape(n_tasks, n_tasks) / 10
    matrix[0, 2] = np.nan
    geometry = {"nc1": matrix + 1.0, "effective_rank": matrix * 100}
    geometry["nc1"][1, 0] = np.nan
    return Diagnostics(matrix, geometry)


def test_diagnostics_round_trip(tmp_path):
    run = _run()
    run.diagnostics = _diagnostics()
    back = read_run(write_run(tmp_path, run))
    np.testing.assert_array_equal(back.diagnostics.transfer_matrix, run.diagnostics.transfer_matrix)
    assert list(back.diagnostics.geometry) == ["nc1", "effective_rank"]
    for name, values in run.diagnostics.geometry.items():
        np.testing.assert_array_equal(back.diagnostics.geometry[name], values)
    payload = json.loads(run_path(tmp_path, "supcon", 1, 0).read_text())  # strict JSON: NaN written as null
    assert payload["diagnostics"]["transfer_matrix"][0][2] is None
    row = {"transformer": 1, "task": 0, "space": "encoder", "split": "test", "nc1": None, "effective_rank": 30.0}
    assert row in payload["diagnostics"]["geometry"]  # the view of geometry named in every row


def _views(n_tasks=3):
    base = np.arange(n_tasks * n_tasks, dtype=float).reshape(n_tasks, n_tasks)
    return {
        (space, split): {"nc1": base + k, "effective_rank_ceiling": np.full((n_tasks, n_tasks), 10.0 * (k + 1))}
        for k, (space, split) in enumerate(
            [("encoder", "test"), ("encoder", "train"), ("projection", "test"), ("projection", "train")]
        )
    }


def test_views_and_decomposition_round_trip(tmp_path):
    run = _run()
    decomposition = {"network_accuracy": np.array([0.5, 0.6, np.nan]), "own_accuracy": np.array([0.4, 0.5, 0.6])}
    run.diagnostics = Diagnostics.from_views(_diagnostics().transfer_matrix, _views(), decomposition)
    assert run.diagnostics.geometry is run.diagnostics.views[DEFAULT_VIEW]
    back = read_run(write_run(tmp_path, run)).diagnostics
    assert list(back.views) == list(_views())  # the default view first, then in the order written
    for view, metrics in _views().items():
        assert list(back.views[view]) == ["nc1", "effective_rank_ceiling"]
        for name, values in metrics.items():
            np.testing.assert_array_equal(back.views[view][name], values, err_msg=f"{view} {name}")
    np.testing.assert_array_equal(back.geometry["nc1"], _views()[DEFAULT_VIEW]["nc1"])
    for name, values in decomposition.items():
        np.testing.assert_array_equal(back.decomposition[name], values)
    payload = json.loads(run_path(tmp_path, "supcon", 1, 0).read_text())["diagnostics"]
    rows = {(r["transformer"], r["task"], r["space"], r["split"]): r for r in payload["geometry"]}
    assert len(rows) == 4 * 9  # one row per (transformer, task, space, split)
    assert rows[(2, 1, "projection", "train")] == {
        "transformer": 2,
        "task": 1,
        "space": "projection",
        "split": "train",
        "nc1": 7.0 + 3,
        "effective_rank_ceiling": 40.0,
    }
    assert payload["decomposition"][2] == {"task": 2, "network_accuracy": None, "own_accuracy": 0.6}


def test_views_must_agree_with_geometry():
    views = _views()
    with pytest.raises(ValueError, match="differs from geometry"):
        Diagnostics(_diagnostics().transfer_matrix, {"nc1": np.zeros((3, 3))}, views)
    same = Diagnostics(_diagnostics().transfer_matrix, {k: v.copy() for k, v in views[DEFAULT_VIEW].items()}, views)
    assert list(same.views) == list(views) and same.decomposition is None


def test_files_without_views_or_decomposition_still_load(tmp_path):
    committed = Path(__file__).resolve().parents[1] / "docs/results/cifar100/supcon/shift1_slot0.json"
    old = read_run(committed).diagnostics  # written before views and the decomposition were recorded
    assert list(old.views) == [DEFAULT_VIEW] and old.decomposition is None
    assert old.views[DEFAULT_VIEW] is old.geometry and "effective_rank_ceiling" not in old.geometry
    assert np.isfinite(old.geometry["nc1"]).all() and old.geometry["nc1"].shape == (10, 10)


def test_files_without_diagnostics_still_load(tmp_path):
    committed = Path(__file__).resolve().parents[1] / "docs/results/cifar100_valloss/supcon/shift1_slot0.json"
    assert read_run(committed).diagnostics is None  # written before diagnostics existed
    path = write_run(tmp_path, _run())
    payload = json.loads(path.read_text())
    assert "diagnostics" not in payload  # runs without --diagnostics write the same file as before
    assert read_run(path).diagnostics is None
    payload["diagnostics"] = {"transfer_matrix": [1.0, 2.0], "geometry": []}
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="not a valid results file.*2-D"):
        read_run(path)


def test_variant_table_means_and_intervals(tmp_path):
    from proglearn_supcon.experiments.summary import main, variant_table
    from proglearn_supcon.runs.results import write_run
    from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

    for shift, acc in ((1, 0.4), (2, 0.6)):
        accuracy = np.array([[acc, np.nan], [acc + 0.1, acc + 0.1]])
        tasks = {name: np.full(2, 7.0) for name in TASK_FIELDS}
        tasks["single_task_accuracy"] = np.array([acc, acc])
        tasks["val_accuracy"] = np.array([acc, acc])
        write_run(tmp_path, RunResult("ce", "cifar100", shift, 0, accuracy, tasks, config={"n_test_per_task": 100}))
    table = variant_table(tmp_path, ["ce"])
    row = table.splitlines()[2].split(" | ")
    assert row[0] == "| ce" and row[-1] == "2 |"
    # single-task accuracy: runs 0.4 and 0.6 -> mean 0.5; t(0.975, 1) * std / sqrt(2) = 12.706 * 0.1
    assert row[1] == "0.500 ± 1.271"
    assert row[2].startswith("0.600 ± ") and row[6] == "7.0" and row[7] == "7"
    assert main(["--results", str(tmp_path / "nothing"), "--variants", "ce"]) == 2


def test_rotation_runs_are_named_by_repetition_and_angle(tmp_path):
    run = _run(shift=2, slot=90, n_tasks=2)
    run.config["protocol"] = "rotation"
    path = write_run(tmp_path, run)
    assert path == run_path(tmp_path, "supcon", 2, 90, "rotation") == tmp_path / "supcon" / "repetition2_angle90.json"
    assert describe_run("supcon", 2, 90, "rotation") == "supcon repetition 2 angle 90"
    assert describe_run("ce", 1, 0) == "ce shift 1 slot 0" and run_keys("label-shuffle") == ("shift", "slot")
    write_run(tmp_path, _run(shift=1, slot=0, n_tasks=2))  # a 10x10 file beside it still loads too
    runs = load_runs(tmp_path, "supcon")
    assert [(r.protocol, r.shift, r.slot) for r in runs] == [("tenxten", 1, 0), ("rotation", 2, 90)]
    assert list_variants(tmp_path) == ["supcon"]
