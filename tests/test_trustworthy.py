"""Model selection after the warm-up, flagged transformers, clustered intervals, checks before any run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import run_record, sequence
from proglearn_supcon.metrics.intervals import cluster_means, mean_and_interval, n_clusters, paired_difference
from proglearn_supcon.runs.flags import flag_transformers, flagged_lines, flagged_transformers
from proglearn_supcon.runs.schema import RunResult
from proglearn_supcon.training import engine
from proglearn_supcon.transformers import NeuralClassificationTransformer

# ----------------------------------------------------------------------------- model selection


def _scripted_train(monkeypatch, accuracies, **params):
    """Train a tiny model with a validation accuracy scripted per epoch; returns the TrainingResult."""
    calls = iter(accuracies)

    def fake_evaluate(*args, **kwargs):
        return 1.0, next(calls)

    monkeypatch.setattr(engine, "evaluate", fake_evaluate)
    defaults = NeuralClassificationTransformer(batch_size=8, warmup_epochs=5, patience=20).get_params()
    config = engine.TrainingConfig.from_params(defaults | {"epochs": len(accuracies)} | params)
    torch.manual_seed(0)
    encoder, head = nn.Linear(4, 3), nn.Linear(3, 2)
    x, y = torch.randn(16, 4), np.arange(16) % 2
    return engine.train(
        config, encoder, head, x, y, embedding_dim=3, generator=torch.Generator().manual_seed(0), validation=(x, y)
    )


def test_a_lucky_first_epoch_is_not_kept_by_default(monkeypatch):
    # Epoch 0 scores best by chance; nothing later beats it within the patience.
    lucky = [0.9] + [0.5] * 29
    result = _scripted_train(monkeypatch, lucky[10:])  # default min_epochs=10: epochs 0-9 are not evaluated
    assert min(result.history["epoch"]) == 10
    assert result.best_epoch >= 10
    # The same script with selection from epoch 0 keeps the lucky epoch: the rule is what prevents it.
    result = _scripted_train(monkeypatch, lucky, min_epochs=0)
    assert result.best_epoch == 0 and result.n_epochs_run == 21  # stopped by the patience after epoch 0


def test_patience_counts_from_the_first_candidate_epoch(monkeypatch):
    result = _scripted_train(monkeypatch, [0.5] * 40, min_epochs=10, patience=3)
    assert result.history["epoch"] == [10, 11, 12, 13] and result.best_epoch == 10


def test_min_epochs_is_capped_by_a_short_budget():
    config = engine.TrainingConfig.from_params(NeuralClassificationTransformer(epochs=4, min_epochs=10).get_params())
    assert engine.first_candidate_epoch(config) == 3
    assert [e for e in range(4) if engine.is_candidate(e, config)] == [3]


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_min_epochs_is_checked(blob_images, value):
    X, y = blob_images([0, 1], 4)
    with pytest.raises(ValueError, match="min_epochs"):
        NeuralClassificationTransformer(min_epochs=value).fit(X, y)


# ----------------------------------------------------------------------------- flags


def test_flags_name_warm_up_epochs_and_near_chance_accuracy():
    flags = flag_transformers(
        best_epoch=np.array([2.0, 30.0, 7.0, 40.0, np.nan]),
        val_accuracy=np.array([0.5, 0.11, 0.6, 0.6, np.nan]),
        n_classes=10,
        warmup_epochs=5,
        epochs=100,
        min_epochs=10,
    )
    assert [f["task"] for f in flags] == [0, 1, 2]
    assert "inside the 5-epoch warm-up" in flags[0]["reasons"][0]
    assert "near chance (0.100)" in flags[1]["reasons"][0]
    assert "before epoch 10" in flags[2]["reasons"][0]


def test_flags_of_an_old_file_are_derived_from_its_fields():
    tasks = {"best_epoch": np.array([1.0, 50.0]), "val_accuracy": np.array([0.4, 0.5])}
    old = RunResult("tcl", "cifar100", 1, 0, np.eye(2), tasks, config={"network_params": {"warmup_epochs": 5}})
    assert [f["task"] for f in flagged_transformers(old)] == [0]
    recorded = RunResult("tcl", "cifar100", 1, 0, np.eye(2), tasks, flagged_transformers=[])
    assert flagged_transformers(recorded) == []  # what the file says wins


@pytest.mark.parametrize(
    "fraction, name", [(0.33, "validation accuracy 0.110"), (0.0, "own voter's leave-one-out accuracy 0.110")]
)
def test_flags_name_the_accuracy_they_read(fraction, name):
    # Without a validation split the check reads the own voter's leave-one-out accuracy, and says so.
    tasks = {"best_epoch": np.array([29.0]), "val_accuracy": np.array([0.11])}
    config = {"network_params": {"warmup_epochs": 5, "epochs": 30, "validation_fraction": fraction}}
    (flag,) = flagged_transformers(RunResult("ce", "cifar100", 1, 0, np.eye(1), tasks, config=config))
    assert flag["reasons"] == [f"{name} is near chance (0.100)"]


def test_flagged_lines_name_each_flag_and_keep_the_tasks_asked_for():
    tasks = {"best_epoch": np.array([1.0, 2.0]), "val_accuracy": np.array([0.9, 0.9])}
    run = RunResult("ce", "cifar100", 3, 1, np.eye(2), tasks, config={"network_params": {"warmup_epochs": 5}})
    lines = flagged_lines({"ce": [run]})
    assert lines[0].startswith("flagged transformers (2; tasks and epochs from 0;")
    assert lines[1:] == [
        "  ce shift 3 slot 1 task 0: kept epoch 1 is inside the 5-epoch warm-up",
        "  ce shift 3 slot 1 task 1: kept epoch 2 is inside the 5-epoch warm-up",
    ]
    assert flagged_lines({"ce": [run]}, tasks=(1,))[1:] == [lines[2]]
    assert flagged_lines({"ce": [run]}, tasks=(5,)) == ["flagged transformers: none"]


@pytest.mark.slow
def test_a_run_records_its_flags(monkeypatch, tmp_path, tiny_run_args):
    seen = []

    def recording_flags(tasks, config, n_classes):
        seen.append((tasks["best_epoch"].copy(), config["network_params"]["min_epochs"], n_classes))
        return [{"task": 0, "reasons": ["scripted"]}]

    monkeypatch.setattr(run_record, "run_flags", recording_flags)
    assert exp.main(tiny_run_args("--variant", "ce", "--out", tmp_path, n_tasks=1)) == 0
    ((best_epoch, min_epochs, n_classes),) = seen
    assert best_epoch.tolist() == [0.0] and min_epochs == 10 and n_classes == 2
    from proglearn_supcon.runs.results import load_runs

    (run,) = load_runs(tmp_path, "ce")
    assert run.flagged_transformers == [{"task": 0, "reasons": ["scripted"]}]


# ----------------------------------------------------------------------------- clustered intervals


def test_cluster_means_average_the_runs_of_a_cluster():
    values = np.array([[1.0, 2.0], [3.0, np.nan], [10.0, 20.0]])
    np.testing.assert_allclose(cluster_means(values, [2, 2, 1]), [[10.0, 20.0], [2.0, 2.0]])
    assert n_clusters([2, 2, 1], 3) == 2 and n_clusters(None, 3) == 3
    with pytest.raises(ValueError, match="one label per run"):
        cluster_means(values, [1, 2])


def test_duplicating_every_run_of_a_shift_does_not_narrow_the_interval():
    rng = np.random.default_rng(0)
    values, shifts = rng.normal(size=(5, 3)), np.arange(1, 6)
    clustered = mean_and_interval(values, clusters=shifts)
    doubled = mean_and_interval(np.concatenate([values, values]), clusters=np.concatenate([shifts, shifts]))
    np.testing.assert_allclose(doubled, clustered)
    # Treated as independent, the duplicates would narrow it (what clustering prevents).
    naive = mean_and_interval(np.concatenate([values, values]))
    assert np.all(naive[2] - naive[1] < clustered[2] - clustered[1])


def test_paired_difference_clusters_after_differencing():
    a = np.array([1.0, 2.0, 4.0, 8.0])
    b = np.array([0.0, 1.0, 1.0, 2.0])
    mean, low, high = paired_difference(a, b, clusters=[1, 1, 2, 2])
    expected = mean_and_interval(np.array([1.0, 4.5]))  # shift means of a - b
    np.testing.assert_allclose((mean, low, high), expected)


# ----------------------------------------------------------------------------- checks before any run


@pytest.mark.parametrize(
    "args, message",
    [
        (["--param", "lr=abc"], "lr must be a real number in (0, inf), got 'abc'"),
        (["--epochs", "-1"], "epochs must be a positive integer, got -1"),
        (["--param", "temperature=0"], "temperature must be a real number in (0, inf), got 0"),
        (["--param", "transformer_split=1"], "transformer_split"),
        (["--param", "voter_dim=0"], "voter_dim must be an integer >= 1 or None, got 0"),
        (["--param", "voter_dim=1.5"], "voter_dim must be an integer >= 1 or None, got 1.5"),
        (["--param", "voter_dtype=float64"], "voter_dtype must be one of ('float32', 'float16', 'bfloat16')"),
    ],
)
def test_bad_parameters_fail_before_any_run_starts(monkeypatch, capsys, tmp_path, tiny_run_args, args, message):
    started = []
    monkeypatch.setattr(sequence, "run_one", lambda *a, **k: started.append(a))
    argv = tiny_run_args("--out", tmp_path, *args)  # a later --epochs overrides the tiny one
    assert exp.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert started == [] and not any(tmp_path.iterdir())
