import argparse
import json

import numpy as np
import pytest

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import sequence
from proglearn_supcon.experiments.arguments import parse_int_list
from proglearn_supcon.experiments.params import network_params
from proglearn_supcon.metrics.geometry import GEOMETRY_METRICS
from proglearn_supcon.metrics.transfer import transfer_metrics
from proglearn_supcon.runs.results import load_runs, run_path


def test_parse_int_list():
    assert parse_int_list("1-3,5") == [1, 2, 3, 5]
    assert parse_int_list("0") == [0]
    with pytest.raises(argparse.ArgumentTypeError):
        parse_int_list("3-1")


def test_help_documents_options(capsys):
    with pytest.raises(SystemExit) as info:
        exp.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--variant", "--dataset", "--shifts", "--slots", "--n-jobs", "--data-dir", "--out", "--seed"):
        assert option in out


@pytest.mark.slow
def test_tiny_end_to_end(tmp_path, capsys, monkeypatch, tiny_run_args):
    retained = []
    real_retain = sequence.retain_freed_memory
    monkeypatch.setattr(sequence, "retain_freed_memory", lambda: retained.append(real_retain()) or retained[-1])
    assert exp.main(tiny_run_args("--variant", "supcon", "ce", "--out", tmp_path, epochs=2)) == 0
    assert len(retained) == 2  # each run keeps freed memory in the process that trains it
    # The job ends with the supcon - ce figure, its table and a summary saying where they are.
    out = capsys.readouterr().out
    figure, table = tmp_path / "supcon_vs_ce.png", tmp_path / "supcon_vs_ce_summary.csv"
    assert figure.stat().st_size > 0 and table.is_file()
    assert f"figure:  {figure}" in out and f"table:   {table}" in out
    assert "supcon - ce after the last task" in out and "interval over the 2 tasks of one shift (1 run)" in out
    for metric in ("accuracy", "FTE", "BTE", "TE"):
        assert f"\n  {metric} " in out
    assert "inf" not in out and "nan" not in out.lower()
    for variant in ("supcon", "ce"):
        (run,) = load_runs(tmp_path, variant)
        assert run.n_tasks == 2 and run.dataset == "digits"
        assert np.isfinite(run.accuracy[np.tril_indices(2)]).all() and np.isnan(run.accuracy[0, 1])
        # Two-class digit tasks: far above chance even after 2 epochs.
        assert np.nanmean(run.accuracy[-1]) > 0.7
        assert (run.tasks["train_time_s"] > 0).all() and (run.tasks["peak_memory_mb"] > 0).all()
        assert (run.tasks["multitask_inference_time_s"] > 0).all() and (
            run.tasks["single_task_inference_time_s"] > 0
        ).all()
        assert run.config["network_params"]["loss"] == variant and run.config["epochs"] == 2
        # what model selection did, per task
        assert (run.tasks["n_epochs_run"] >= 1).all() and (run.tasks["n_epochs_run"] <= 2).all()
        assert (run.tasks["best_epoch"] < run.tasks["n_epochs_run"]).all()
        assert ((run.tasks["val_accuracy"] >= 0) & (run.tasks["val_accuracy"] <= 1)).all()
        assert run.library_version
        assert run.diagnostics is None  # only with --diagnostics
        metrics = transfer_metrics(run.accuracy, run.single_task_accuracy, n_test=run.n_test_per_task)
        assert metrics.fte[0] == pytest.approx(1.0)  # task 0's single-task learner is the network
    # Same seed per (shift, slot) across variants, so the pair differs only in the loss.
    a, b = (load_runs(tmp_path, v)[0].config["network_params"]["random_state"] for v in ("supcon", "ce"))
    assert a == b


@pytest.mark.slow
def test_resume_after_interruption(tmp_path, monkeypatch, tiny_run_args):
    real_run_one = sequence.run_one
    calls = []

    def interrupted(spec, args, *rest):
        calls.append(spec)
        if spec.shift == 2:
            raise KeyboardInterrupt  # killed while the second run trains
        return real_run_one(spec, args, *rest)

    monkeypatch.setattr(sequence, "run_one", interrupted)
    argv = tiny_run_args("--variant", "supcon", "--shifts", "1-2", "--out", tmp_path, epochs=2)
    assert exp.main(argv) == 130  # Ctrl-C: one line, the finished runs kept
    finished = run_path(tmp_path, "supcon", 1, 0)
    assert finished.exists() and not run_path(tmp_path, "supcon", 2, 0).exists()
    assert not [p for p in finished.parent.iterdir() if p.name.endswith(".tmp")]
    before = finished.read_bytes()

    calls.clear()
    monkeypatch.setattr(sequence, "run_one", real_run_one)
    monkeypatch.setattr(
        sequence, "run_one", lambda spec, args, *rest: calls.append(spec) or real_run_one(spec, args, *rest)
    )
    assert exp.main(argv) == 0
    assert [c.shift for c in calls] == [2]  # only the unfinished run is redone
    assert finished.read_bytes() == before
    assert run_path(tmp_path, "supcon", 2, 0).exists()
    assert exp.main(argv) == 0 and [c.shift for c in calls] == [2]  # nothing left to do


def test_missing_cifar_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PROGLEARN_SUPCON_DATA", raising=False)
    code = exp.main(["--dataset", "cifar100", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("proglearn-supcon run: error: CIFAR-100 not found") and err.count("\n") == 1
    # The command line's options, not the Python arguments (issue 29).
    assert "(from --data-dir)" in err and "pass --data-dir <folder containing" in err and "pass --download" in err
    assert "data_dir" not in err and "download=True" not in err


@pytest.mark.slow
def test_results_file_is_json_with_config(tmp_path, tiny_run_args):
    exp.main(tiny_run_args("--variant", "tcl", "--out", tmp_path, "--seed", "3", epochs=2))
    payload = json.loads(run_path(tmp_path, "tcl", 1, 0).read_text())
    assert payload["config"]["seed"] == 3 and payload["config"]["dataset"] == "digits"
    assert {row["task"] for row in payload["tasks"]} == {0, 1}


@pytest.mark.slow
def test_param_sets_network_parameters(tmp_path, tiny_run_args):
    args = tiny_run_args(
        "--variant",
        "ce",
        "--out",
        str(tmp_path),
        "--param",
        "early_stopping=none",
        "--param",
        "lr=2e-3",
        "--param",
        "metric=euclidean",
        epochs=2,
        n_tasks=1,
    )
    assert exp.main(args) == 0
    (run,) = load_runs(tmp_path, "ce")
    params = run.config["network_params"]
    assert (params["early_stopping"], params["lr"], params["metric"]) == ("none", 2e-3, "euclidean")
    assert run.tasks["n_epochs_run"][0] == 2 and run.tasks["best_epoch"][0] == 1


@pytest.mark.parametrize("bad", ["lr", "nosuch=1", "=3"])
def test_bad_param_is_a_usage_error(bad, capsys, tiny_run_args):
    with pytest.raises(SystemExit) as info:
        exp.main(tiny_run_args("--param", bad, epochs=2))
    assert info.value.code == 2
    err = capsys.readouterr().err  # read once: a second read would be empty
    assert "NAME=VALUE" in err or "unknown network parameter" in err


@pytest.mark.slow
def test_results_written_before_model_selection_was_recorded_still_load(tmp_path, tiny_run_args):
    from proglearn_supcon.runs.results import read_run

    assert exp.main(tiny_run_args("--variant", "ce", "--out", tmp_path, epochs=2, n_tasks=1)) == 0
    path = run_path(tmp_path, "ce", 1, 0)
    payload = json.loads(path.read_text())
    for row in payload["tasks"]:  # the task rows as files of the earlier schema had them
        for name in ("n_epochs_run", "best_epoch", "val_accuracy"):
            del row[name]
    path.write_text(json.dumps(payload))
    run = read_run(path)
    assert np.isnan(run.tasks["best_epoch"]).all() and np.isfinite(run.single_task_accuracy).all()


@pytest.mark.slow
def test_diagnostics_transfer_matrix_diagonal_is_single_task_accuracy(tmp_path, tiny_run_args):
    assert exp.main(tiny_run_args("--variant", "ce", "--diagnostics", "--out", tmp_path, epochs=2)) == 0
    (run,) = load_runs(tmp_path, "ce")
    matrix = run.diagnostics.transfer_matrix
    assert matrix.shape == (2, 2)
    # Exactly the recorded single-task accuracies: the same cached voter posteriors.
    np.testing.assert_array_equal(np.diag(matrix), run.single_task_accuracy)
    assert ((matrix >= 0) & (matrix <= 1)).all()
    assert matrix[0, 0] == run.accuracy[0, 0]  # one task learned: the network is its single-task learner
    assert set(run.diagnostics.geometry) == set(GEOMETRY_METRICS)
    for name, values in run.diagnostics.geometry.items():
        assert values.shape == (2, 2) and np.isfinite(values).all(), name
    assert (run.diagnostics.geometry["effective_rank"] >= 1).all() and run.config["diagnostics"] is True
    # Every space and split, each effective rank below its recorded ceiling.
    assert set(run.diagnostics.views) == {(s, p) for s in ("encoder", "projection") for p in ("test", "train")}
    for view, metrics in run.diagnostics.views.items():
        assert set(metrics) == set(GEOMETRY_METRICS), view
        assert (metrics["effective_rank"] <= metrics["effective_rank_ceiling"] + 1e-9).all(), view
    assert (run.diagnostics.views[("projection", "test")]["effective_rank_ceiling"] == 2).all()  # 2 logits
    assert (run.diagnostics.geometry["effective_rank_ceiling"] == run.n_test_per_task - 1).all()
    # The decomposition's network accuracy is the run's accuracy after the last task.
    np.testing.assert_array_equal(run.diagnostics.decomposition["network_accuracy"], run.accuracy[-1])


@pytest.mark.slow
def test_default_sequence_does_not_saturate(tmp_path):
    # The shipped default (digits-hard) with a short budget: learnable, but no
    # task learned perfectly, so every transfer efficiency is an informative ratio.
    assert exp.build_parser().parse_args([]).dataset == "digits-hard"
    assert exp.main(["--variant", "ce", "--epochs", "2", "--quiet", "--device", "cpu", "--out", str(tmp_path)]) == 0
    (run,) = load_runs(tmp_path, "ce")
    assert run.dataset == "digits-hard" and run.n_tasks == 5
    seen = np.tril_indices(5)
    accuracies = np.concatenate([run.accuracy[seen], run.single_task_accuracy])
    assert accuracies.max() < 1.0 and accuracies.mean() > 0.6
    metrics = transfer_metrics(run.accuracy, run.single_task_accuracy, n_test=run.n_test_per_task)
    assert np.isfinite(metrics.fte).all() and np.isfinite(metrics.te[seen]).all()


def test_default_runs_every_variant_with_the_library_defaults():
    args = exp.build_parser().parse_args([])
    assert args.variant == ["supcon", "ce", "tcl"]
    assert set(network_params(args, "ce", 1, 0)) == {"loss", "device", "random_state", "verbose"}
    assert network_params(exp.build_parser().parse_args(["--epochs", "7"]), "ce", 1, 0)["epochs"] == 7
    overridden = exp.build_parser().parse_args(["--recipe", "early-stopping", "--param", "min_epochs=7"])
    assert network_params(overridden, "ce", 1, 0)["min_epochs"] == 7


def _feature_tasks(n_tasks=3, seed=0):
    """Two-class tasks of 10-d features in the protocol's Task form (the MLP trains in milliseconds)."""
    from proglearn_supcon.datasets import Task

    rng = np.random.default_rng(seed)
    tasks = []
    for t in range(n_tasks):
        centres, classes = rng.normal(0, 3, size=(2, 10)), np.array([2 * t, 2 * t + 1])
        y, y_test = np.repeat(classes, 20), np.repeat(classes, 10)
        X = (centres[y - 2 * t] + rng.normal(size=(40, 10))).astype(np.float32)
        X_test = (centres[y_test - 2 * t] + rng.normal(size=(20, 10))).astype(np.float32)
        tasks.append(Task(task_id=t, X_train=X, y_train=y, X_test=X_test, y_test=y_test, classes=classes))
    return tasks


@pytest.mark.parametrize("keep_embeddings", [False, True])
def test_each_test_set_is_embedded_once_per_transformer_and_kept_only_for_diagnostics(monkeypatch, keep_embeddings):
    from proglearn_supcon import LifelongClassificationNetwork, NeuralClassificationTransformer
    from proglearn_supcon.runs.memory import PeakMemory

    tasks = _feature_tasks()
    test_sets = {float(v): s for s, task in enumerate(tasks) for v in task.X_test[:, 0]}
    embedded = []
    real = NeuralClassificationTransformer.transform

    def recording(self, X, *args, **kwargs):
        firsts = {test_sets.get(float(v)) for v in np.asarray(X)[:, 0]}
        if firsts != {None}:  # a test set, not a voter's fit data
            (s,) = firsts
            embedded.append((id(self), s))
        return real(self, X, *args, **kwargs)

    monkeypatch.setattr(NeuralClassificationTransformer, "transform", recording)
    params = dict(epochs=2, batch_size=16, validation_fraction=0.0, early_stopping="none", device="cpu")
    net = LifelongClassificationNetwork(random_state=0, **params)
    record = sequence.learn_tasks(net, tasks, "test", True, 0, PeakMemory(), keep_embeddings=keep_embeddings)
    # Every transformer on every test set (T x T pairs), each pair once over the whole run.
    assert len(embedded) == len(set(embedded)) == 9
    assert np.isfinite(record.accuracy[np.tril_indices(3)]).all()
    assert all(len(posteriors) == 3 for posteriors in record.test_posteriors)
    kept = [sorted(e) for e in record.test_embeddings]
    assert kept == ([[0, 1, 2]] * 3 if keep_embeddings else [[]] * 3)
