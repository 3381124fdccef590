import copy

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from proglearn_supcon import LifelongClassificationNetwork, NeuralClassificationTransformer
from proglearn_supcon.voters import KNNClassificationVoter


@pytest.fixture(scope="module")
def tasks(blob_images):
    """Task 0: classes 0-2, task 1: classes 3-5 (train and test drawn apart)."""
    tasks = []
    for t, classes in enumerate(([0, 1, 2], [3, 4, 5])):
        X, y = blob_images(classes, 30, seed=10 + t)
        Xt, yt = blob_images(classes, 20, seed=100 + t)
        tasks.append((X, y, Xt, yt))
    return tasks


@pytest.fixture(scope="module", params=["supcon", "ce"])
def fitted(request, tasks, fast_params):
    net = LifelongClassificationNetwork(loss=request.param, random_state=0, **fast_params())
    for t, (X, y, _, _) in enumerate(tasks):
        net.add_task(X, y, task_id=t)
    return net


def _snapshot(net, X):
    """Everything a failed call must leave untouched."""
    learner = net.learner_
    return (
        list(learner.tasks_),
        list(learner.transformers_),
        sorted(learner.voters_),
        learner.input_shape_,
        net.predict_proba(X, 0),
    )


@pytest.mark.slow
def test_two_task_learner_beats_chance(fitted, tasks):
    # Chance is 1/3 on both tasks.
    for t, (_, _, Xt, yt) in enumerate(tasks):
        assert np.mean(fitted.predict(Xt, task_id=t) == yt) >= 0.8
        assert np.mean(fitted.predict(Xt, task_id=t, transformer_ids=[t]) == yt) >= 0.8


@pytest.mark.slow
def test_voters_in_both_directions(fitted):
    # (transformer, task): own voters, forward (0 -> task 1) and backward (1 -> task 0).
    assert sorted(fitted.learner_.voters_) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert fitted.task_ids_ == [0, 1] and fitted.transformer_ids_ == [0, 1]


@pytest.mark.slow
def test_own_voter_uses_held_out_share(fitted, tasks):
    data = fitted.learner_.tasks_[0]
    n = len(tasks[0][1])
    assert len(data.voter_indices) == n - round(0.67 * n)
    # The own voter saw only the held-out share; the forward/backward voters saw all of it.
    voters = fitted.learner_.voters_
    assert len(voters[(0, 0)].y_fit_) == len(data.voter_indices)
    assert len(voters[(1, 0)].y_fit_) == n and len(voters[(0, 1)].y_fit_) == len(tasks[1][1])


@pytest.mark.slow
def test_predict_proba_columns_and_rows(fitted, tasks):
    Xt = tasks[1][2]
    proba = fitted.predict_proba(Xt, task_id=1)
    assert proba.shape == (len(Xt), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Columns follow sorted labels: argmax column -> label 3 + column.
    np.testing.assert_array_equal(fitted.predict(Xt, 1), 3 + proba.argmax(1))
    # The multitask posterior is the decider's weighted mean of the single-transformer posteriors.
    parts = [fitted.predict_proba(Xt, 1, transformer_ids=[tid]) for tid in (0, 1)]
    weights = fitted.decider_weights_[1]
    np.testing.assert_allclose(proba, weights[0] * parts[0] + weights[1] * parts[1])
    fitted.set_params(decider="average")  # ProgLearn's: the plain mean
    try:
        np.testing.assert_allclose(fitted.predict_proba(Xt, task_id=1), np.mean(parts, axis=0))
    finally:
        fitted.set_params(decider="shrunk-em")


@pytest.mark.slow
def test_string_labels_and_next_task_id(tasks, fast_params):
    X, y, Xt, yt = tasks[0]
    names = np.array(["cat", "dog", "emu"])
    net = LifelongClassificationNetwork(random_state=0, **fast_params(epochs=2))
    net.add_task(X, names[y])
    net.add_task(tasks[1][0], tasks[1][1])
    assert net.task_ids_ == [0, 1]
    pred = net.predict(Xt, 0)
    assert set(pred) <= set(names)


@pytest.mark.slow
def test_reproducible(tasks, fast_params):
    X, y, Xt, _ = tasks[0]
    preds = []
    for _ in range(2):
        net = LifelongClassificationNetwork(random_state=5, **fast_params(epochs=2)).add_task(X, y)
        preds.append(net.predict_proba(Xt, 0))
    np.testing.assert_array_equal(preds[0], preds[1])


@pytest.mark.slow
def test_add_transformer_adds_voters_not_tasks(tasks, fast_params):
    X0, y0, Xt, _ = tasks[0]
    net = LifelongClassificationNetwork(random_state=0, **fast_params(epochs=1)).add_task(X0, y0, task_id="a")
    net.add_transformer(tasks[1][0], tasks[1][1], transformer_id="extra")
    assert net.task_ids_ == ["a"] and net.transformer_ids_ == ["a", "extra"]
    assert ("extra", "a") in net.learner_.voters_
    assert net.predict_proba(Xt, "a", transformer_ids=["extra"]).shape == (len(Xt), 3)


@pytest.mark.slow
def test_save_load_round_trip(fitted, tasks, tmp_path):
    path = tmp_path / "net.pt"
    fitted.save(path)
    loaded = LifelongClassificationNetwork.load(path)
    assert loaded.get_params()["loss"] == fitted.loss
    for t, (_, _, Xt, _) in enumerate(tasks):
        np.testing.assert_array_equal(loaded.predict_proba(Xt, t), fitted.predict_proba(Xt, t))
        np.testing.assert_array_equal(
            loaded.predict(Xt, t, transformer_ids=[t]), fitted.predict(Xt, t, transformer_ids=[t])
        )
    # A loaded network keeps learning.
    loaded.add_task(tasks[0][0], tasks[0][1], task_id=2)
    assert loaded.task_ids_ == [0, 1, 2]


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a"):
        LifelongClassificationNetwork.load(bad)
    with pytest.raises(FileNotFoundError):
        LifelongClassificationNetwork.load(tmp_path / "missing.pt")


def test_predict_before_any_task():
    net = LifelongClassificationNetwork()
    with pytest.raises(NotFittedError):
        net.predict(np.zeros((2, 32, 32, 3), np.uint8), task_id=0)


def _poked(X, index, value):
    """``X`` as floats in [0, 1] with one pixel set to ``value``."""
    X = X.astype(np.float32) / 255
    X[index] = value
    return X


# case -> (a builder of the bad (X, y, task_id) from a good X, y; the error it must raise).
# The names are known at collection, before any images exist.
BAD_INPUTS = {
    "nan": (lambda X, y: (_poked(X, (0, 0, 0, 0), np.nan), y, 5), "NaN"),
    "inf": (lambda X, y: (_poked(X, (1, 2, 3, 1), np.inf), y, 5), "NaN or infinity"),
    "channels": (lambda X, y: (np.repeat(X, 2, axis=-1)[..., :4], y, 5), "channels"),
    "3-D": (lambda X, y: (X[..., 0], y, 5), "3-D"),
    "dtype": (lambda X, y: (X.astype(np.int64), y, 5), "uint8"),
    "strings": (lambda X, y: (X.astype(str), y, 5), "uint8"),
    "unscaled floats": (lambda X, y: (X.astype(np.float32), y, 5), r"scaled to \[0, 1\]"),
    "length": (lambda X, y: (X, y[:-1], 5), "different lengths"),
    "one class": (lambda X, y: (X, np.zeros_like(y), 5), "at least 2 classes"),
    "duplicate id": (lambda X, y: (X, y, 0), "already exists"),
    "image size": (lambda X, y: (X[:, :16, :16], y, 5), "per-sample shape"),
    "y 2-D": (lambda X, y: (X, y[:, None], 5), "1-D"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_changes_nothing(fitted, tasks, case):
    X, y = tasks[0][0][:12], tasks[0][1][:12]
    build, match = BAD_INPUTS[case]
    bX, by, tid = build(X, y)
    before = _snapshot(fitted, tasks[0][2])
    with pytest.raises(ValueError, match=match):
        fitted.add_task(bX, by, task_id=tid)
    after = _snapshot(fitted, tasks[0][2])
    assert before[:4] == after[:4]
    np.testing.assert_array_equal(before[4], after[4])


@pytest.mark.slow
def test_unknown_task_and_transformer(fitted, tasks):
    Xt = tasks[0][2]
    with pytest.raises(ValueError, match="unknown task_id"):
        fitted.predict(Xt, task_id=7)
    with pytest.raises(ValueError, match="no voter"):
        fitted.predict(Xt, task_id=0, transformer_ids=[9])
    with pytest.raises(ValueError, match="per-sample shape"):
        fitted.predict(Xt[:, :8, :8], task_id=0)


@pytest.mark.slow
def test_failure_midway_leaves_learner_unchanged(tasks, monkeypatch, fast_params):
    """A failure after the new transformer trained (while fitting backward voters) rolls back."""
    (X0, y0, Xt, _), (X1, y1, _, _) = tasks
    net = LifelongClassificationNetwork(random_state=0, **fast_params(epochs=1)).add_task(X0, y0)
    before = _snapshot(net, Xt)
    voters_before = copy.copy(net.learner_.voters_)
    calls = {"n": 0}
    original_fit = KNNClassificationVoter.fit

    def failing_fit(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # own voter, forward voter, then the backward voter fails
            raise RuntimeError("simulated failure")
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(KNNClassificationVoter, "fit", failing_fit)
    with pytest.raises(RuntimeError, match="simulated"):
        net.add_task(X1, y1)
    after = _snapshot(net, Xt)
    assert before[:4] == after[:4]
    np.testing.assert_array_equal(before[4], after[4])
    assert all(net.learner_.voters_[k] is v for k, v in voters_before.items())


def test_failed_first_task_leaves_network_unfitted(tasks, fast_params):
    X, y = tasks[0][0], tasks[0][1]
    net = LifelongClassificationNetwork(**fast_params())
    with pytest.raises(ValueError):
        net.add_task(X, np.zeros_like(y))
    assert not hasattr(net, "learner_")


@pytest.mark.slow
def test_tabular_tasks(fast_params):
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, size=(4, 6))
    y = np.repeat(np.arange(4), 40)
    X = centres[y] + rng.normal(0, 1, size=(160, 6))
    net = LifelongClassificationNetwork(random_state=0, **fast_params())
    net.add_task(X[y < 2], y[y < 2]).add_task(X[y >= 2], y[y >= 2])
    assert np.mean(net.predict(X[y >= 2], 1) == y[y >= 2]) > 0.8


# ----------------------------------------------------------------------------- lean voters, nothing embedded twice
# Feature-vector tasks train the default MLP (256-d embedding) in milliseconds, so
# these tests check the bookkeeping on real transformers without training a CNN.

MLP_WIDTH = 256


@pytest.fixture(scope="module")
def feature_tasks():
    """Three 2-class tasks of 10-d features: (X, y, X_test, y_test); no two rows share their first value."""
    rng = np.random.default_rng(0)
    tasks = []
    for t in range(3):
        centres = rng.normal(0, 3, size=(2, 10))
        y, y_test = np.repeat([2 * t, 2 * t + 1], 30), np.repeat([2 * t, 2 * t + 1], 10)
        X = (centres[y - 2 * t] + rng.normal(size=(60, 10))).astype(np.float32)
        X_test = (centres[y_test - 2 * t] + rng.normal(size=(20, 10))).astype(np.float32)
        tasks.append((X, y, X_test, y_test))
    firsts = np.concatenate([a[:, 0] for task in tasks for a in (task[0], task[2])])
    assert len(np.unique(firsts)) == len(firsts)
    return tasks


@pytest.fixture(scope="module")
def feature_params():
    """Two epochs of the MLP, no validation: a few milliseconds per task."""
    return dict(epochs=2, batch_size=16, validation_fraction=0.0, early_stopping="none", min_epochs=0, device="cpu")


def feature_network(tasks, params, **options):
    net = LifelongClassificationNetwork(random_state=0, **params, **options)
    for t, (X, y, _, _) in enumerate(tasks):
        net.add_task(X, y, task_id=t)
    return net


@pytest.fixture
def embedded(monkeypatch):
    """Every call of a transformer's ``transform``: (the transformer, the first feature of each row)."""
    calls = []
    real = NeuralClassificationTransformer.transform

    def recording(self, X, *args, **kwargs):
        calls.append((self, np.asarray(X)[:, 0].copy()))
        return real(self, X, *args, **kwargs)

    monkeypatch.setattr(NeuralClassificationTransformer, "transform", recording)
    return calls


@pytest.mark.parametrize("voter_dim", [None, 8])
def test_fitting_embeds_each_sample_once_per_transformer(feature_tasks, feature_params, embedded, voter_dim):
    net = feature_network(feature_tasks, feature_params, voter_dim=voter_dim)
    learner = net.learner_
    ids = {id(transformer): tid for tid, transformer in learner.transformers_.items()}
    rows = {float(v): (t, i) for t, task in enumerate(feature_tasks) for i, v in enumerate(task[0][:, 0])}
    seen = {}
    for transformer, firsts in embedded:
        for value in firsts:
            task, row = rows[float(value)]
            seen.setdefault((ids[id(transformer)], task), []).append(row)
    assert sorted(seen) == sorted(learner.voters_)
    for (tid, task), embedded_rows in seen.items():
        assert len(embedded_rows) == len(set(embedded_rows)), f"transformer {tid} embedded task {task} twice"
        n = len(feature_tasks[task][1])
        # A transformer's own task: the voter share only, unless a projection is fitted on all of it.
        own_share = learner.tasks_[task].voter_indices if voter_dim is None else np.arange(n)
        expected = own_share if tid == task else np.arange(n)
        np.testing.assert_array_equal(np.sort(embedded_rows), expected)


@pytest.mark.parametrize("voter_dim", [None, 8])
def test_predicting_many_tasks_embeds_the_inputs_once_per_transformer(
    feature_tasks, feature_params, embedded, monkeypatch, voter_dim
):
    from proglearn_supcon.reduction import PrincipalProjection

    net = feature_network(feature_tasks, feature_params, voter_dim=voter_dim)
    X_test = feature_tasks[0][2]
    one_by_one = {t: net.predict_proba(X_test, t) for t in net.task_ids_}
    embedded.clear()
    reduced = []
    real = PrincipalProjection.transform
    monkeypatch.setattr(PrincipalProjection, "transform", lambda self, X: reduced.append(self) or real(self, X))
    together = net.predict_proba_tasks(X_test)
    assert len(embedded) == 3 and len({id(t) for t, _ in embedded}) == 3  # not 3 tasks x 3 transformers
    assert len(reduced) == (0 if voter_dim is None else 3)
    assert list(together) == [0, 1, 2]
    for t, proba in together.items():
        np.testing.assert_array_equal(proba, one_by_one[t])
    labels = net.predict_tasks(X_test, task_ids=[2, 0], transformer_ids=[0])
    assert list(labels) == [2, 0]
    np.testing.assert_array_equal(labels[2], net.predict(X_test, 2, transformer_ids=[0]))
    with pytest.raises(ValueError, match="unknown task_id"):
        net.predict_proba_tasks(X_test, task_ids=[0, 7])
    with pytest.raises(ValueError, match="task_ids is empty"):
        net.predict_proba_tasks(X_test, task_ids=[])


def test_voter_options_default_to_the_full_float32_embedding():
    params = LifelongClassificationNetwork().get_params()
    assert params["voter_dim"] is None and params["voter_dtype"] == "float32"


@pytest.mark.parametrize("voter_dtype", ["float32", "bfloat16"])
def test_voter_dim_at_or_above_the_width_gives_exactly_the_unreduced_voters(feature_tasks, feature_params, voter_dtype):
    """Not a rotation whose rounding could reorder near ties: nothing is projected at all."""
    nets = [
        feature_network(feature_tasks, feature_params, voter_dim=dim, voter_dtype=voter_dtype)
        for dim in (None, MLP_WIDTH, 10**6)
    ]
    X_test = np.concatenate([task[2] for task in feature_tasks])
    expected = nets[0].predict_proba_tasks(X_test)
    for net in nets[1:]:
        assert net.learner_.reducers_ == {}
        assert all(voter.n_features_in_ == MLP_WIDTH for voter in net.learner_.voters_.values())
        for t, proba in net.predict_proba_tasks(X_test).items():
            np.testing.assert_array_equal(proba, expected[t])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_reduced_voters_are_knn_on_the_projection_of_the_own_task(feature_tasks, feature_params, metric):
    from proglearn_supcon.reduction import PrincipalProjection

    net = feature_network(feature_tasks, feature_params, voter_dim=8, metric=metric)
    learner = net.learner_
    assert sorted(learner.reducers_) == [0, 1, 2]
    for tid, reducer in learner.reducers_.items():
        # Fitted on the transformer's embedding of its whole task, uncentred for cosine.
        X_own = feature_tasks[tid][0]
        expected = PrincipalProjection(8, center=metric == "euclidean").fit(learner.transform(X_own, tid))
        signs = np.sign(np.sum(reducer.components_ * expected.components_, axis=1, keepdims=True))
        np.testing.assert_allclose(reducer.components_ * signs, expected.components_, atol=1e-4)
        assert reducer.mean_.any() == (metric == "euclidean")
    # Voter (0, 1): transformer 0's projection of task 1, fit and query alike.
    X1, y1, X1_test, _ = feature_tasks[1]
    voter = learner.voters_[(0, 1)]
    projected = learner.reducers_[0].transform(learner.transform(X1, 0))
    np.testing.assert_array_equal(voter.X_fit_, projected)
    manual = KNNClassificationVoter(metric=metric).fit(projected, y1)
    query = learner.reducers_[0].transform(learner.transform(X1_test, 0))
    np.testing.assert_array_equal(net.predict_proba(X1_test, 1, transformer_ids=[0]), manual.predict_proba(query))
    assert np.mean(net.predict(X1_test, 1) == feature_tasks[1][3]) > 0.8


def test_16bit_voters_store_half_and_predict_like_float32(feature_tasks, feature_params):
    full = feature_network(feature_tasks, feature_params)
    half = feature_network(feature_tasks, feature_params, voter_dtype="float16")
    assert all(voter.X_fit_.dtype == np.float16 for voter in half.learner_.voters_.values())
    X_test = np.concatenate([task[2] for task in feature_tasks])
    for t in half.task_ids_:
        agree = np.mean(half.predict(X_test, t) == full.predict(X_test, t))
        assert agree >= 0.95


def test_save_and_load_keep_reduced_16bit_voters(feature_tasks, feature_params, tmp_path):
    import torch

    net = feature_network(feature_tasks, feature_params, voter_dim=8, voter_dtype="bfloat16")
    net.save(tmp_path / "net.pt")
    loaded = LifelongClassificationNetwork.load(tmp_path / "net.pt")
    assert loaded.get_params()["voter_dim"] == 8 and loaded.voter_dtype == "bfloat16"
    assert sorted(loaded.learner_.reducers_) == [0, 1, 2]
    for key, voter in loaded.learner_.voters_.items():
        assert voter.X_fit_.dtype == torch.bfloat16 and voter.n_features_in_ == 8, key
    X_test = np.concatenate([task[2] for task in feature_tasks])
    expected = net.predict_proba_tasks(X_test)
    for t, proba in loaded.predict_proba_tasks(X_test).items():
        np.testing.assert_array_equal(proba, expected[t])
    loaded.add_task(feature_tasks[0][0], feature_tasks[0][1] + 10, task_id=3)  # keeps learning, reduced
    assert 3 in loaded.learner_.reducers_ and loaded.learner_.voters_[(3, 0)].n_features_in_ == 8


def test_a_model_saved_before_the_voter_options_loads_with_the_old_behaviour(feature_tasks, feature_params, tmp_path):
    net = feature_network(feature_tasks[:2], feature_params)
    X_test = feature_tasks[0][2]
    expected = net.predict_proba(X_test, 0)
    for name in ("voter_dim", "voter_dtype"):
        del net.__dict__[name]  # as the estimator was pickled before they existed
    for name in ("make_reducer", "reducers_"):
        del net.learner_.__dict__[name]
    net.save(tmp_path / "old.pt")
    loaded = LifelongClassificationNetwork.load(tmp_path / "old.pt")
    params = loaded.get_params()
    assert params["voter_dim"] is None and params["voter_dtype"] == "float32"
    assert loaded.learner_.reducers_ == {} and loaded.learner_.make_reducer is None
    np.testing.assert_array_equal(loaded.predict_proba(X_test, 0), expected)
    loaded.add_task(feature_tasks[2][0], feature_tasks[2][1], task_id=2)
    assert loaded.task_ids_ == [0, 1, 2]
