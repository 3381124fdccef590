"""A fitted network's voters refitted with another storage (proglearn_supcon/convert_voters.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.convert_voters import with_voter_storage

N_TASKS = 3


@pytest.fixture(scope="module")
def tasks(blob_images):
    """Three 2-class tasks of blob images: (X_train, y_train, X_test, y_test) each."""
    out = []
    for t in range(N_TASKS):
        X, y = blob_images([2 * t, 2 * t + 1], 40, seed=t)
        out.append((X[:60], y[:60], X[60:], y[60:]))
    return out


def fit(params: dict, tasks) -> LifelongClassificationNetwork:
    net = LifelongClassificationNetwork(**params)
    for t, (X, y, _, _) in enumerate(tasks):
        net.add_task(X, y, task_id=t)
    return net


@pytest.fixture(scope="module")
def params(fast_params):
    return fast_params(epochs=2, random_state=3)


@pytest.fixture(scope="module")
def network(params, tasks):
    return fit(params, tasks)


def all_posteriors(net, tasks) -> dict:
    """Every voter's posteriors on its task's test set, keyed by (transformer, task)."""
    learner = net.learner_
    out = {}
    for tid, task_id in learner.voters_:
        embedding = learner.transform(tasks[task_id][2], tid)
        out[(tid, task_id)] = learner.voter_posteriors({tid: embedding}, task_id)[tid]
    return out


@pytest.mark.slow
def test_float32_full_width_is_the_network_itself(network, tasks):
    same = with_voter_storage(network)
    assert same is not network and same.get_params() == network.get_params()
    for t, (_, _, X_test, _) in enumerate(tasks):
        np.testing.assert_array_equal(same.predict_proba(X_test, t), network.predict_proba(X_test, t))
    assert same.learner_.transformers_[0] is network.learner_.transformers_[0]  # shared, not copied


@pytest.mark.slow
@pytest.mark.parametrize("voter_dtype, voter_dim", [("float16", 5), ("bfloat16", None)])
def test_equals_the_network_trained_with_that_storage(network, params, tasks, voter_dtype, voter_dim):
    # Training does not read the voter storage, so the same seed trains the same transformers.
    trained = fit({**params, "voter_dtype": voter_dtype, "voter_dim": voter_dim}, tasks)
    derived = with_voter_storage(network, voter_dtype, voter_dim)
    assert derived.voter_dtype == voter_dtype and derived.voter_dim == voter_dim
    assert set(derived.learner_.voters_) == set(trained.learner_.voters_)
    for key, voter in trained.learner_.voters_.items():
        ours = derived.learner_.voters_[key].X_fit_
        assert torch.as_tensor(ours).dtype == torch.as_tensor(voter.X_fit_).dtype
        torch.testing.assert_close(torch.as_tensor(ours), torch.as_tensor(voter.X_fit_), rtol=0, atol=0)
    expected, ours = all_posteriors(trained, tasks), all_posteriors(derived, tasks)
    for key in expected:
        np.testing.assert_array_equal(ours[key], expected[key])
    if voter_dim is not None:
        assert sorted(derived.learner_.reducers_) == list(range(N_TASKS))
        assert derived.learner_.voters_[(0, 1)].X_fit_.shape[1] == voter_dim


@pytest.mark.slow
def test_the_original_network_is_unchanged(network, tasks):
    before = {key: np.array(voter.X_fit_, copy=True) for key, voter in network.learner_.voters_.items()}
    with_voter_storage(network, "float16", 3)
    assert not network.learner_.reducers_ and network.voter_dtype == "float32" and network.voter_dim is None
    for key, voter in network.learner_.voters_.items():
        assert voter.X_fit_.dtype == np.float32
        np.testing.assert_array_equal(voter.X_fit_, before[key])


@pytest.mark.slow
def test_bad_settings_and_networks_are_clear_errors(network, params, tasks):
    with pytest.raises(NotFittedError):
        with_voter_storage(LifelongClassificationNetwork(**params))
    with pytest.raises(ValueError, match="voter_dim"):
        with_voter_storage(network, voter_dim=0)
    with pytest.raises(ValueError, match="voter_dtype"):
        with_voter_storage(network, voter_dtype="float8")
    net = fit(params, tasks[:1])
    net.add_transformer(tasks[1][0], tasks[1][1], transformer_id=1)
    with pytest.raises(ValueError, match=r"transformers \[1\] were added without a task"):
        with_voter_storage(net, "float16")
