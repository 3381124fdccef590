"""Backends of the experiment: Dask (and Ray) clusters, device slots, --list."""

import os
import threading
import time

import numpy as np
import pytest

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import sequence
from proglearn_supcon.runs.parallel import claim_device, device_slots
from proglearn_supcon.runs.results import load_runs, run_path, write_run
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult


@pytest.fixture(scope="module")
def supcon_args(tiny_run_args):
    """``supcon_args(*extra)``: the tiny run of the supcon variant on 40 images per task."""
    # One torch thread per run everywhere: float results may change with the thread count.
    return lambda *extra: tiny_run_args("--variant", "supcon", *extra, n_train_per_task=40, threads_per_run=1)


def _accuracies(folder):
    return {(r.shift, r.slot): (r.accuracy, r.single_task_accuracy) for r in load_runs(folder, "supcon")}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, supcon_args):
    out = tmp_path_factory.mktemp("sequential")
    assert exp.main(supcon_args("--shifts", "1-2", "--out", out)) == 0
    return out


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
        distributed.Client(local) as client,
    ):
        yield local.scheduler_address, client


def test_device_slots_and_claims(tmp_path):
    assert device_slots(["cpu", "cpu", "cuda:0"]) == ["cpu#0", "cpu#1", "cuda:0#0"]
    with claim_device(["cpu", "cpu"], 0, tmp_path) as first, claim_device(["cpu", "cpu"], 0, tmp_path) as second:
        # The first choice is taken, so the second run goes to the other slot.
        assert first == ("cpu", "cpu#0") and second == ("cpu", "cpu#1")
        got = []
        waiter = threading.Thread(target=lambda: got.append(_claim_once(tmp_path)))
        waiter.start()
        time.sleep(0.3)
        assert not got  # both slots busy: a third run waits
    waiter.join(5)
    assert got == [("cpu", "cpu#1")]  # round-robin first choice for index 1


def _claim_once(lock_dir):
    with claim_device(["cpu", "cpu"], 1, lock_dir) as claimed:
        return claimed


@pytest.mark.slow
def test_dask_results_equal_sequential(sequential, cluster, tmp_path, supcon_args):
    address, _ = cluster
    argv = supcon_args(
        "--shifts",
        "1-2",
        "--out",
        str(tmp_path),
        "--backend",
        "dask",
        "--scheduler",
        address,
        "--devices",
        "cpu,cpu",
    )
    assert exp.main(argv) == 0
    expected, got = _accuracies(sequential), _accuracies(tmp_path)
    assert expected.keys() == got.keys() == {(1, 0), (2, 0)}
    for key in expected:
        for a, b in zip(expected[key], got[key]):
            np.testing.assert_array_equal(a, b)  # same seeds, same numbers
    runs = load_runs(tmp_path, "supcon")
    assert all(r.config["worker"].startswith("dask worker tcp://") for r in runs)
    assert all(r.config["torch_threads"] == 1 for r in runs)
    # One run per device slot at a time.
    by_slot = {}
    for r in runs:
        assert r.config["device"] == "cpu" and r.config["device_slot"] in ("cpu#0", "cpu#1")
        by_slot.setdefault(r.config["device_slot"], []).append((r.config["started_at"], r.config["finished_at"]))
    for intervals in by_slot.values():
        intervals.sort()
        assert all(end <= start for (_, end), (start, _) in zip(intervals, intervals[1:]))


def _break_shift(shift):
    """On a worker: make runs of ``shift`` raise, as a bug or a bad node would."""
    from proglearn_supcon.experiments import sequence as worker_seq

    real = worker_seq.__dict__.setdefault("_real_run_one", worker_seq.run_one)

    def broken(spec, *args):
        if spec.shift == shift:
            raise RuntimeError("simulated failure on this worker")
        return real(spec, *args)

    worker_seq.run_one = broken


def _repair():
    from proglearn_supcon.experiments import sequence as worker_seq

    worker_seq.run_one = worker_seq.__dict__.pop("_real_run_one", worker_seq.run_one)


@pytest.mark.slow
def test_failed_run_keeps_finished_files_and_rerun_does_the_rest(cluster, tmp_path, capsys, supcon_args):
    address, client = cluster
    argv = supcon_args("--shifts", "1-2", "--out", tmp_path, "--backend", "dask", "--scheduler", address)
    client.run(_break_shift, 2)
    try:
        assert exp.main(argv) == 1
    finally:
        client.run(_repair)
    err = capsys.readouterr().err
    assert "supcon shift 2 slot 0 failed on dask worker tcp://" in err
    assert "RuntimeError: simulated failure on this worker" in err
    kept = run_path(tmp_path, "supcon", 1, 0).read_bytes()
    assert not run_path(tmp_path, "supcon", 2, 0).exists()
    assert not [p for p in (tmp_path / "supcon").iterdir() if p.name.endswith(".tmp")]

    assert exp.main(argv) == 0
    assert "1 of 2 runs already finished" in capsys.readouterr().out  # only shift 2 is redone
    assert run_path(tmp_path, "supcon", 2, 0).exists()
    assert run_path(tmp_path, "supcon", 1, 0).read_bytes() == kept


@pytest.mark.slow
def test_unreachable_scheduler_is_a_quick_clear_error(tmp_path, capsys, supcon_args):
    pytest.importorskip("distributed")
    start = time.monotonic()
    code = exp.main(supcon_args("--out", tmp_path, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"))
    assert time.monotonic() - start < 15
    err = capsys.readouterr().err
    assert code == 2
    assert "error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in err
    assert "Traceback" not in err


def test_list_trains_nothing(tmp_path, capsys, monkeypatch, supcon_args):
    n = 2
    write_run(
        tmp_path,
        RunResult("supcon", "digits", 1, 0, np.tril(np.full((n, n), 0.9)), {name: np.ones(n) for name in TASK_FIELDS}),
    )
    monkeypatch.setattr(sequence, "run_one", lambda *a: pytest.fail("--list must not train"))
    before = sorted(tmp_path.rglob("*"))
    assert exp.main(supcon_args("--shifts", "1-3", "--out", tmp_path, "--list")) == 0
    out = capsys.readouterr().out
    assert "finished (1 of 3):\n  supcon shift 1 slot 0" in out
    assert "to do (2 of 3):\n  supcon shift 2 slot 0\n  supcon shift 3 slot 0" in out
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("PROGLEARN_SUPCON_TEST_RAY"),
    reason="starting Ray takes about 30 s; set PROGLEARN_SUPCON_TEST_RAY=1 to run",
)
def test_ray_results_equal_sequential(sequential, tmp_path, supcon_args):
    pytest.importorskip("ray")
    argv = supcon_args("--shifts", "1-2", "--out", tmp_path, "--backend", "ray", "--n-jobs", "2")
    assert exp.main(argv) == 0
    expected, got = _accuracies(sequential), _accuracies(tmp_path)
    assert expected.keys() == got.keys()
    for key in expected:
        for a, b in zip(expected[key], got[key]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_dask_rotation_units_equal_sequential(cluster, tmp_path, tiny_run_args):
    """Rotation units (task 1 once, then its angles) on two Dask workers give the sequential files' numbers."""
    address, _ = cluster

    def argv(out, *extra):
        return tiny_run_args(
            "--protocol", "rotation", "--variant", "ce", "--angles", "0,90", "--repetitions", "2", "--out", out,
            *extra, n_tasks=None, n_train_per_task=100, threads_per_run=1,
        )  # fmt: skip

    assert exp.main(argv(tmp_path / "sequential")) == 0
    assert exp.main(argv(tmp_path / "dask", "--backend", "dask", "--scheduler", address)) == 0
    expected, got = (load_runs(tmp_path / where, "ce") for where in ("sequential", "dask"))
    assert [(r.shift, r.slot) for r in got] == [(1, 0), (1, 90), (2, 0), (2, 90)]
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a.accuracy, b.accuracy)
    assert all(r.config["worker"].startswith("dask worker tcp://") for r in got)
