"""Tests of the named training recipes (training.recipes) and the learning-rate schedules they use."""

import sys
from pathlib import Path

import numpy as np
import pytest

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.hyperparams import HYPERPARAMS, check_params
from proglearn_supcon.runs import provenance as prov
from proglearn_supcon.training.engine import TrainingConfig
from proglearn_supcon.training.recipes import RECIPES
from proglearn_supcon.training.schedule import lr_factor
from proglearn_supcon.transformers import NeuralClassificationTransformer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

import make_recipe_reference as reference  # noqa: E402


def _defaults() -> dict:
    return {name: param.default for name, param in HYPERPARAMS.items() if name not in ("encoder", "verbose")}


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipes_name_only_declared_parameters_with_valid_values(name):
    assert set(RECIPES[name]) <= set(HYPERPARAMS)
    check_params(RECIPES[name])


def test_every_recipe_sets_the_same_parameters():
    # so that switching recipes on top of any other changes everything a recipe is about
    assert len({frozenset(params) for params in RECIPES.values()}) == 1


def test_the_default_recipe_is_whitened():
    defaults = _defaults()
    assert all(defaults[name] == value for name, value in RECIPES["whitened"].items())


def test_a_recipe_change_changes_the_recipe_hash():
    hashes = {name: prov.recipe_hash({**_defaults(), **params}) for name, params in RECIPES.items()}
    assert len(set(hashes.values())) == len(RECIPES)
    assert hashes["whitened"] == prov.recipe_hash(_defaults())


def test_the_old_recipe_keeps_its_recipe_hash():
    # Results files written before issue 32 have neither ema_decay nor whiten_first_conv, and the old defaults.
    old = {**_defaults(), **RECIPES["early-stopping"]}
    del old["ema_decay"], old["whiten_first_conv"]
    assert prov.recipe_hash(old) == prov.recipe_hash({**old, **RECIPES["early-stopping"]})


def test_fixed_budget_schedules_end_at_zero():
    for schedule in ("cosine", "linear"):
        tr = NeuralClassificationTransformer(**{**RECIPES["fixed-budget"], "lr_schedule": schedule})
        config = TrainingConfig.from_params(tr.get_params())
        w, epochs = config.warmup_epochs, config.epochs
        factors = np.array([lr_factor(e, config) for e in range(epochs + 1)])
        np.testing.assert_allclose(factors[: w + 1], np.arange(1, w + 2) / (w + 1))  # warm-up to the peak
        assert factors.max() == factors[w] == 1.0
        assert np.all(np.diff(factors[w:]) < 0)  # then down, every epoch
        assert factors[epochs] == pytest.approx(0.0, abs=1e-12)  # zero at the end of the budget
    linear = TrainingConfig.from_params(
        NeuralClassificationTransformer(epochs=12, warmup_epochs=2, lr_schedule="linear").get_params()
    )
    np.testing.assert_allclose([lr_factor(e, linear) for e in range(2, 13)], 1 - np.arange(11) / 10)


@pytest.mark.slow
def test_the_old_recipe_is_reproduced_from_parameters():
    """A tiny network under RECIPES["early-stopping"] learns what the code before issue 32 learned by default.

    Exact to float32 rounding on the CPU model (and torch kernels) the
    reference was made on (its ``cpu``); elsewhere fp32 kernels may round
    differently, Adam carries the differences on, and only a loose agreement
    is asked for.
    """
    import torch

    expected = np.load(FIXTURES / "recipe_reference.npz")
    (X0, y0), (X1, y1), Xq = reference.tasks()
    threads = torch.get_num_threads()
    torch.set_num_threads(reference.THREADS)
    try:
        net = LifelongClassificationNetwork(**{**RECIPES["early-stopping"], **reference.SIZE})
        net.add_task(X0, y0, task_id="a").add_task(X1, y1, task_id="b")
        got = reference.learned(net, Xq)
    finally:
        torch.set_num_threads(threads)
    same_kernels = f"{reference.cpu_name()} / {torch.backends.cpu.get_cpu_capability()}" == str(expected["cpu"])
    assert set(got) == set(expected.files) - {"cpu"}
    for key in got:
        if key.startswith("embedding"):
            tolerance = dict(rtol=1e-4, atol=1e-5) if same_kernels else dict(rtol=0, atol=0.05)
            np.testing.assert_allclose(got[key], expected[key], **tolerance, err_msg=key)
        else:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_the_run_command_takes_a_recipe_and_later_options_override_it():
    from proglearn_supcon.experiments.arguments import build_parser
    from proglearn_supcon.experiments.params import network_params

    def params(*argv):
        return network_params(build_parser().parse_args(["--dataset", "cifar100", *argv]), "ce", 1, 0)

    plain = params()
    assert not set(RECIPES["early-stopping"]) & (set(plain) - {"loss", "device", "random_state", "verbose"})
    old = params("--recipe", "early-stopping")
    assert {name: old[name] for name in RECIPES["early-stopping"]} == RECIPES["early-stopping"]
    assert params("--recipe", "early-stopping", "--epochs", "7")["epochs"] == 7
    assert params("--recipe", "early-stopping", "--param", "patience=3")["patience"] == 3
    with pytest.raises(SystemExit):
        params("--recipe", "no-such-recipe")


@pytest.mark.slow
def test_without_a_validation_split_the_own_voters_held_out_accuracy_is_recorded(blob_images, fast_params):
    """The failure checks keep a held-out accuracy to read when nothing was validated."""
    from proglearn_supcon.experiments.run_record import TaskRecord
    from proglearn_supcon.experiments.sequence import train_task
    from proglearn_supcon.task_deciders import held_out_rows

    X, y = blob_images([0, 1, 2], 20)
    task = type("Task", (), {"X_train": X, "y_train": y})
    record = TaskRecord.empty(1)
    net = LifelongClassificationNetwork(random_state=0, **fast_params(epochs=2, validation_fraction=0.0))
    train_task(net, task, 0, record)
    learner = net.learner_
    voter, data = learner.voters_[(0, 0)], learner.tasks_[0]
    expected = np.mean(
        data.classes[voter.loo_predict_proba().argmax(axis=1)] == data.y[held_out_rows(data.voter_indices, 60, False)]
    )
    assert record.per_task["val_accuracy"][0] == expected
    assert record.per_task["best_epoch"][0] == 1 and record.per_task["n_epochs_run"][0] == 2
    assert net.learner_.transformers_[0].history_["epoch"] == []  # nothing was validated
