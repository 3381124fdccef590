"""Tests of the learned deciders, the voters' leave-one-out posteriors and how the learner uses them."""

from __future__ import annotations

import numpy as np
import pytest

from proglearn_supcon import LifelongClassificationNetwork, mixture_weights
from proglearn_supcon.deciders import (
    DECIDERS,
    SHRINKAGE_GRID,
    BestKDecider,
    EMDecider,
    SimpleArgmaxAverage,
    SoftmaxDecider,
    make_decider,
)
from proglearn_supcon.mixture_weights import (
    EM_CACHE_SIZE,
    choose,
    em_weights,
    em_weights_on_subsets,
    em_weights_on_subsets_cached,
    one_se_margins,
    point_scores,
    true_class_likelihoods,
)
from proglearn_supcon.task_deciders import LEAVE_ONE_OUT, TaskDeciders
from proglearn_supcon.voters import KNNClassificationVoter

LEARNED = [name for name in DECIDERS if name != "average"]


def _noisy_voters(rng, y, n_classes, accuracies):
    """One-hot posteriors, voter j right with probability ``accuracies[j]`` independently per point."""
    out = []
    for acc in accuracies:
        right = rng.random(len(y)) < acc
        wrong = (y + rng.integers(1, n_classes, len(y))) % n_classes
        out.append(np.eye(n_classes)[np.where(right, y, wrong)])
    return out


@pytest.mark.parametrize("name", LEARNED)
def test_perfect_own_voter_among_noise_is_followed(name):
    rng = np.random.default_rng(0)
    y_fit, y_test = rng.integers(0, 2, 150), rng.integers(0, 2, 400)
    fit = _noisy_voters(rng, y_fit, 2, [1.0] + [0.5] * 20)
    test = _noisy_voters(rng, y_test, 2, [1.0] + [0.5] * 20)
    decider = make_decider(name, [0, 1]).fit(fit, y_fit)
    assert decider.weights_[0] > 0.8
    assert np.mean(decider.predict(test) == y_test) == 1.0
    # The average is diluted by the noise.
    assert np.mean(SimpleArgmaxAverage([0, 1]).predict(test) == y_test) < 0.95


@pytest.mark.parametrize("name", ["shrunk-em", "softmax", "best-k"])
def test_equally_good_independent_voters_get_near_uniform_weights(name):
    rng = np.random.default_rng(1)
    n_voters, n_classes = 7, 5
    y_fit, y_test = rng.integers(0, n_classes, 300), rng.integers(0, n_classes, 2000)
    fit = _noisy_voters(rng, y_fit, n_classes, [0.6] * n_voters)
    test = _noisy_voters(rng, y_test, n_classes, [0.6] * n_voters)
    decider = make_decider(name, range(n_classes)).fit(fit, y_fit)
    np.testing.assert_allclose(decider.weights_, 1 / n_voters, atol=0.06)
    combined = np.mean(decider.predict(test) == y_test)
    assert combined > max(np.mean(p.argmax(1) == y_test) for p in test) + 0.1


def test_weights_are_a_simplex_and_order_equivariant():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 100)
    post = _noisy_voters(rng, y, 3, [0.9, 0.6, 0.4, 0.7])
    for name in LEARNED:
        w = make_decider(name, [0, 1, 2]).fit(post, y).weights_
        assert np.all(w >= 0) and np.isclose(w.sum(), 1.0)
        w_rev = make_decider(name, [0, 1, 2]).fit(post[::-1], y).weights_
        np.testing.assert_allclose(w_rev[::-1], w, atol=1e-9)


def test_em_maximises_the_mixture_likelihood():
    rng = np.random.default_rng(3)
    likelihoods = rng.random((200, 4)) + 0.01
    w = em_weights(likelihoods)
    best = np.mean(np.log(likelihoods @ w))
    for _ in range(200):
        other = rng.dirichlet(np.ones(4))
        assert np.mean(np.log(likelihoods @ other)) <= best + 1e-6


def test_cv_shrinkage_tends_to_the_average_on_few_points_and_to_em_on_many():
    rng = np.random.default_rng(4)
    # Ten equally mediocre voters: EM's weights on 20 points are noise, so CV shrinks them away.
    y = rng.integers(0, 10, 20)
    few = EMDecider(range(10)).fit(_noisy_voters(rng, y, 10, [0.4] * 10), y)
    assert few.shrinkage_ >= 0.5
    # One strong voter among weak ones, many points: little shrinkage.
    y = rng.integers(0, 2, 500)
    many = EMDecider([0, 1]).fit(_noisy_voters(rng, y, 2, [0.95] + [0.55] * 10), y)
    assert many.shrinkage_ <= 0.3 and many.weights_[0] > 0.6


def test_softmax_and_best_k_extremes():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    post = _noisy_voters(rng, y, 2, [1.0, 0.5, 0.5])
    soft = SoftmaxDecider([0, 1]).fit(post, y)
    assert soft.weights_[0] > 0.9 and soft.temperature_ < np.inf
    best = BestKDecider([0, 1]).fit(post, y)
    assert best.k_ == 1 and best.weights_.tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("name", LEARNED)
def test_decider_input_checks(name):
    decider = make_decider(name, [0, 1])
    with pytest.raises(ValueError, match="outside classes"):
        decider.fit([np.eye(2)[[0, 1]]], [0, 5])
    with pytest.raises(ValueError, match="one label per point"):
        decider.fit([np.eye(2)[[0, 1]]], [0])
    with pytest.raises(ValueError, match="one 2-D array"):
        decider.fit(np.eye(2), [0, 1])
    fitted = decider.fit([np.eye(2)[[0, 1]]] * 3, [0, 1])
    with pytest.raises(ValueError, match="weights are for 3"):
        fitted.predict_proba([np.eye(2)] * 2)
    with pytest.raises(ValueError, match="decider must be one of"):
        make_decider("median", [0, 1])


# --------------------------------------------------------------- leave-one-out
def test_loo_never_uses_the_query_point_but_does_use_its_duplicate():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.1]], dtype=np.float32)
    y = np.array(["a", "b", "c", "c"])
    voter = KNNClassificationVoter(k=1, metric="euclidean").fit(X, y)
    loo = voter.loo_predict_proba()
    # Row 0's nearest other point is its exact duplicate, row 1 (label b), and vice versa.
    np.testing.assert_array_equal(loo[0], [0, 1, 0])
    np.testing.assert_array_equal(loo[1], [1, 0, 0])
    np.testing.assert_array_equal(loo[2:], [[0, 0, 1], [0, 0, 1]])
    # Without leaving out, both duplicates see row 0 (the tie goes to the lower index): row 0 sees itself.
    np.testing.assert_array_equal(voter.predict_proba(X)[:2], [[1, 0, 0], [1, 0, 0]])


@pytest.mark.parametrize("metric, storage", [("cosine", "float32"), ("euclidean", "float16"), ("cosine", "bfloat16")])
def test_loo_equals_a_voter_refitted_without_the_point(metric, storage):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    voter = KNNClassificationVoter(k=5, metric=metric, classes=[0, 1, 2], storage_dtype=storage).fit(X, y)
    stored = np.asarray(voter.X_fit_.float() if storage == "bfloat16" else voter.X_fit_, dtype=np.float32)
    rows = np.array([3, 17, 39])
    loo = voter.loo_predict_proba(rows)
    for i, row in enumerate(rows):
        keep = np.arange(40) != row
        # Refitted on the stored (rounded) rows in float32, so both see the same points.
        other = KNNClassificationVoter(k=5, metric=metric, classes=[0, 1, 2]).fit(stored[keep], y[keep])
        np.testing.assert_array_equal(loo[i], other.predict_proba(stored[[row]])[0])


def test_loo_input_checks():
    voter = KNNClassificationVoter(k=3).fit(np.eye(4, dtype=np.float32), [0, 1, 0, 1])
    assert voter.loo_predict_proba().shape == (4, 2)
    for rows in ([4], [-1], [[0]], [0.5]):
        with pytest.raises(ValueError, match="rows"):
            voter.loo_predict_proba(np.array(rows))
    with pytest.raises(ValueError, match="single point"):
        KNNClassificationVoter().fit(np.ones((1, 2)), [0]).loo_predict_proba()


# ------------------------------------------------------------------ network
def _tasks(n_tasks=3, n=90, seed=0):
    """Feature tasks where only task 0's own transformer can see the signal (features 0-1)."""
    rng = np.random.default_rng(seed)
    tasks = []
    for t in range(n_tasks):
        X = rng.normal(size=(n, 6)).astype(np.float32)
        y = (X[:, 2 * t] + X[:, 2 * t + 1] > 0).astype(int)
        tasks.append((X, y))
    return tasks


def _network(decider, **params):
    return LifelongClassificationNetwork(epochs=3, batch_size=32, decider=decider, random_state=0, **params)


@pytest.fixture(scope="module")
def fitted_pair():
    tasks = _tasks()
    nets = {name: _network(name) for name in ("average", "shrunk-em")}
    for net in nets.values():
        for t, (X, y) in enumerate(tasks):
            net.add_task(X, y, task_id=t)
    return tasks, nets


def test_average_decider_is_the_plain_mean_bit_for_bit(fitted_pair):
    tasks, nets = fitted_pair
    net, X = nets["average"], tasks[0][0]
    learner = net.learner_
    voters = [learner.voters_[(tid, 0)].predict_proba(learner.transform(X, tid)) for tid in learner.transformer_ids]
    np.testing.assert_array_equal(net.predict_proba(X, 0), np.mean(voters, axis=0))
    assert all(np.allclose(list(w.values()), 1 / 3) for w in net.decider_weights_.values())


def test_learned_decider_weights_refit_when_voters_are_added():
    tasks = _tasks()
    net = _network("shrunk-em")
    net.add_task(*tasks[0], task_id=0)
    assert net.decider_weights_ == {0: {0: 1.0}}
    net.add_task(*tasks[1], task_id=1)
    assert list(net.decider_weights_[0]) == [0, 1] and list(net.decider_weights_[1]) == [0, 1]
    for weights in net.decider_weights_.values():
        assert np.isclose(sum(weights.values()), 1.0)
    # The single-task learner is the own voter whatever the decider.
    X0 = tasks[0][0]
    own = net.learner_.voters_[(0, 0)].predict_proba(net.learner_.transform(X0, 0))
    np.testing.assert_array_equal(net.predict_proba(X0, 0, transformer_ids=[0]), own)


def test_set_params_switches_the_decider_without_retraining(fitted_pair):
    tasks, nets = fitted_pair
    net = nets["shrunk-em"]
    X = tasks[0][0]
    learned = net.predict_proba(X, 0)
    net.set_params(decider="average")
    try:
        np.testing.assert_array_equal(net.predict_proba(X, 0), nets["average"].predict_proba(X, 0))
    finally:
        net.set_params(decider="shrunk-em")
    np.testing.assert_array_equal(net.predict_proba(X, 0), learned)


def test_own_one_se_finds_each_tasks_own_voter_by_task_id(fitted_pair):
    """Each task's weights are its own voter alone (at its own transformer's place) or brier-1se's."""
    tasks, nets = fitted_pair
    net = nets["shrunk-em"]
    try:
        net.set_params(decider="shrunk-em-brier-1se")
        one_se = net.decider_weights_
        net.set_params(decider="shrunk-em-brier-own-1se")
        own_first = net.decider_weights_
        alone = [t for t in range(3) if own_first[t] == {tid: float(tid == t) for tid in range(3)}]
        assert set(alone) >= {1, 2}  # transformers 1 and 2 bring nothing to each other's tasks
        assert all(own_first[t] == one_se[t] for t in range(3) if t not in alone)
        for t in alone:
            X = tasks[t][0]
            np.testing.assert_array_equal(net.predict_proba(X, t), net.predict_proba(X, t, transformer_ids=[t]))
    finally:
        net.set_params(decider="shrunk-em")


def test_task_deciders_keep_what_the_decider_cost(fitted_pair):
    _, nets = fitted_pair
    deciders = nets["shrunk-em"].learner_.task_deciders_
    assert deciders.seconds[LEAVE_ONE_OUT] > 0 and deciders.seconds["shrunk-em"] > 0
    assert deciders.seconds_for("shrunk-em") == deciders.seconds[LEAVE_ONE_OUT] + deciders.seconds["shrunk-em"]
    assert deciders.seconds_for("average") == 0.0
    copy = deciders.copy()
    copy._add_seconds("shrunk-em", 5.0)
    assert copy.seconds["shrunk-em"] == deciders.seconds["shrunk-em"] + 5.0  # the original is unchanged
    old = TaskDeciders.__new__(TaskDeciders)  # as unpickled from a learner saved before the seconds were kept
    old.__setstate__({"loo_posteriors": {}, "fitted": {}})
    assert old.seconds == {} and old.seconds_for("shrunk-em") == 0.0


def test_weights_never_see_test_data(fitted_pair):
    tasks, nets = fitted_pair
    net = nets["shrunk-em"]
    before = net.decider_weights_
    rng = np.random.default_rng(9)
    net.predict_proba(rng.normal(size=(50, 6)).astype(np.float32), 0)  # test inputs, any labels
    assert net.decider_weights_ == before


def test_save_load_keeps_weights_and_predictions(fitted_pair, tmp_path):
    tasks, nets = fitted_pair
    net = nets["shrunk-em"]
    net.save(tmp_path / "net.pt")
    loaded = LifelongClassificationNetwork.load(tmp_path / "net.pt")
    assert loaded.decider == "shrunk-em" and loaded.decider_weights_ == net.decider_weights_
    for t, (X, _) in enumerate(tasks):
        np.testing.assert_array_equal(loaded.predict_proba(X, t), net.predict_proba(X, t))


def test_bad_decider_is_refused_before_training():
    with pytest.raises(ValueError, match="decider must be one of"):
        _network("vote").add_task(*_tasks(1)[0])


def test_failed_add_task_leaves_the_decider_state_unchanged(fitted_pair, monkeypatch):
    tasks, nets = fitted_pair
    net = nets["shrunk-em"]
    learner = net.learner_
    before = (dict(learner.task_deciders_.fitted), learner.decider, net.decider_weights_)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(learner.task_deciders_.__class__, "decider", broken)
    with pytest.raises(RuntimeError, match="boom"):
        net.add_task(*_tasks(1, seed=5)[0], task_id=9)
    monkeypatch.undo()
    assert 9 not in learner.tasks_ and (dict(learner.task_deciders_.fitted), learner.decider) == before[:2]
    assert net.decider_weights_ == before[2]


# --------------------------------------------------------------- experiment
@pytest.mark.slow
def test_run_records_every_decider_from_the_same_voters(tmp_path, tiny_run_args):
    from proglearn_supcon.experiments import cifar_task_sequence as exp
    from proglearn_supcon.runs.results import load_runs, read_run, run_path

    argv = tiny_run_args("--variant", "supcon", "--out", tmp_path, "--param", "decider=shrunk-em", n_tasks=3)
    assert exp.main(argv) == 0
    run = read_run(run_path(tmp_path, "supcon", 1, 0))
    assert run.decider == "shrunk-em" and set(run.decider_accuracy) == set(DECIDERS)
    np.testing.assert_array_equal(run.accuracy, run.decider_accuracy["shrunk-em"])
    for weights in run.decider_weights.values():
        assert [len(w) for w in weights] == [3, 3, 3]
        assert np.allclose([sum(w) for w in weights], 1.0)
    # What the network's decider cost each task's step, inside its training and single-task inference times.
    spent = run.tasks["decider_time_s"]
    assert (spent > 0).all() and (spent <= run.tasks["train_time_s"] + run.tasks["single_task_inference_time_s"]).all()
    # Task 0 after task 0 has one voter: every decider is that voter.
    assert len({matrix[0, 0] for matrix in run.decider_accuracy.values()}) == 1
    # summary/compare/plot read any recorded decider.
    (average,) = load_runs(tmp_path, "supcon", decider="average")
    assert average.decider == "average"
    np.testing.assert_array_equal(average.accuracy, run.decider_accuracy["average"])
    with pytest.raises(ValueError, match="no accuracy under decider"):
        load_runs(tmp_path, "supcon", decider="median")


@pytest.mark.slow
def test_decider_weights_do_not_depend_on_test_labels(tiny_run_args):
    from proglearn_supcon.experiments import cifar_task_sequence as exp
    from proglearn_supcon.experiments import sequence
    from proglearn_supcon.experiments.params import network_params
    from proglearn_supcon.experiments.run_record import RunSpec, decider_fields
    from proglearn_supcon.runs.memory import PeakMemory

    args = exp.build_parser().parse_args(tiny_run_args("--param", "decider=shrunk-em", n_tasks=3))
    spec = RunSpec("supcon", 1, 0)
    tasks = sequence.load_tasks(spec, args)
    rng = np.random.default_rng(0)
    relabelled = [task.__class__(**{**vars(task), "y_test": rng.permutation(task.y_test)}) for task in tasks]
    weights = []
    for task_list in (tasks, relabelled):
        net = LifelongClassificationNetwork(**network_params(args, "supcon", 1, 0))
        record = sequence.learn_tasks(net, task_list, "test", True, 0, PeakMemory())
        weights.append(decider_fields(net, record)["decider_weights"])
    assert weights[0] == weights[1]


@pytest.mark.slow
def test_commands_show_any_recorded_decider(tmp_path, tiny_run_args, capsys):
    from proglearn_supcon.experiments import cifar_task_sequence as exp
    from proglearn_supcon.experiments import summary
    from proglearn_supcon.plotting import compare_variants, plot_variant

    argv = tiny_run_args("--variant", "supcon", "--shifts", "1,2", "--out", tmp_path, n_tasks=3)
    assert exp.main(argv) == 0
    capsys.readouterr()
    assert summary.main(["--results", str(tmp_path), "--variants", "supcon", "--decider", "best-k"]) == 0
    assert "| supcon@best-k |" in capsys.readouterr().out
    assert summary.main(["--results", str(tmp_path), "--variants", "supcon", "supcon@em"]) == 0
    out = capsys.readouterr().out
    assert "| supcon |" in out and "| supcon@em |" in out
    # Two deciders of the same runs, paired like two variants.
    figure = tmp_path / "deciders.png"
    argv = ["--results", str(tmp_path), "--a", "supcon@shrunk-em", "--b", "supcon@average", "--out", str(figure)]
    assert compare_variants.main(argv) == 0 and figure.is_file()
    assert "supcon@shrunk-em - supcon@average" in capsys.readouterr().out
    assert (
        plot_variant.main(
            [
                "--results",
                str(tmp_path),
                "--variant",
                "supcon",
                "--decider",
                "softmax",
                "--out",
                str(tmp_path / "v.png"),
            ]
        )
        == 0
    )
    with pytest.raises(SystemExit):  # argparse: not a decider
        summary.main(["--results", str(tmp_path), "--variants", "supcon", "--decider", "mean"])


def test_em_on_subsets_equals_em_on_each_subset():
    rng = np.random.default_rng(11)
    likelihoods = rng.random((60, 5)) + 0.01
    subsets = np.stack([np.arange(60) % 3 != f for f in range(3)] + [np.ones(60, dtype=bool)])
    batched = em_weights_on_subsets(likelihoods, subsets, max_iter=50, tol=-np.inf)  # exactly 50 updates each

    def naive_em(L, iterations):
        w = [1 / L.shape[1]] * L.shape[1]
        for _ in range(iterations):
            responsibilities = [
                [w[j] * row[j] / sum(w[k] * row[k] for k in range(len(w))) for j in range(len(w))] for row in L
            ]
            w = [sum(r[j] for r in responsibilities) / len(L) for j in range(len(w))]
        return np.array(w)

    for subset, weights in zip(subsets, batched):
        np.testing.assert_allclose(weights, naive_em(likelihoods[subset], 50), atol=1e-12)


def _em_indexing_every_iteration(likelihoods, subsets, max_iter, tol):
    """The EM loop as first written: the active subsets' rows indexed out at every iteration."""
    masks = subsets.astype(np.float64)
    counts = masks.sum(axis=1)
    weights = np.full((len(masks), likelihoods.shape[1]), 1.0 / likelihoods.shape[1])
    previous = np.full(len(masks), -np.inf)
    active = np.ones(len(masks), dtype=bool)
    for _ in range(max_iter):
        mixture = likelihoods @ weights[active].T
        current = (masks[active] * np.log(mixture).T).sum(axis=1) / counts[active]
        still = current - previous[active] >= tol
        previous[active] = current
        idx = np.flatnonzero(active)
        active[idx[~still]] = False
        if not active.any():
            break
        mixture, idx = mixture[:, still], idx[still]
        ratio = ((masks[idx] / mixture.T) @ likelihoods) / counts[idx, None]
        updated = weights[idx] * ratio
        weights[idx] = updated / updated.sum(axis=1, keepdims=True)
    return weights


@pytest.mark.parametrize("seed", range(6))
def test_em_on_subsets_is_the_indexing_loop_bit_for_bit(seed):
    # kNN-like likelihoods (fractions of 10 votes, smoothed). On the first 20 points every voter is the
    # same, so subset 0 (those points) stops at once while the others go on: both the all-moving fast
    # path and the partly stopped path run.
    rng = np.random.default_rng(seed)
    n, n_voters = int(rng.integers(40, 200)), int(rng.integers(2, 30))
    likelihoods = 0.99 * rng.integers(0, 11, (n, n_voters)) / 10 + 0.005
    likelihoods[:20] = likelihoods[:20, :1]
    subsets = rng.random((6, n)) < rng.uniform(0.2, 1.0, (6, 1))
    subsets[:, 0] = subsets[:, 25] = True
    subsets[0] = np.arange(n) < 20
    for cap, tol in ((60, 1e-9), (60, 1e-5), (60, -np.inf), (500, 1e-9)):
        np.testing.assert_array_equal(
            em_weights_on_subsets(likelihoods, subsets, cap, tol),
            _em_indexing_every_iteration(likelihoods, subsets, cap, tol),
        )
    longer = em_weights_on_subsets(likelihoods, subsets, 61, 1e-9)
    moved = (longer != em_weights_on_subsets(likelihoods, subsets, 60, 1e-9)).any(axis=1)
    assert not moved[0] and moved.any()


def test_cached_em_is_the_computed_em_and_each_call_gets_its_own_copy(monkeypatch):
    rng = np.random.default_rng(3)
    likelihoods = rng.random((50, 4)) + 0.01
    subsets = np.stack([np.arange(50) % 5 != f for f in range(5)] + [np.ones(50, dtype=bool)])
    expected = em_weights_on_subsets(likelihoods, subsets)
    first = em_weights_on_subsets_cached(likelihoods, subsets)
    np.testing.assert_array_equal(first, expected)
    first[:] = 0.0  # the caller's copy, not the cache's
    calls = []
    real = mixture_weights.em_weights_on_subsets
    monkeypatch.setattr(mixture_weights, "em_weights_on_subsets", lambda *a: calls.append(a) or real(*a))
    np.testing.assert_array_equal(em_weights_on_subsets_cached(likelihoods, subsets), expected)
    assert calls == []  # remembered
    # Other arguments, other values or another memory layout of the same values are computed anew.
    em_weights_on_subsets_cached(likelihoods, subsets, max_iter=3)
    em_weights_on_subsets_cached(likelihoods + 1e-3, subsets)
    em_weights_on_subsets_cached(np.asfortranarray(likelihoods), subsets)
    assert len(calls) == 3
    for i in range(EM_CACHE_SIZE + 3):
        em_weights_on_subsets_cached(likelihoods + i, subsets, max_iter=1)
    assert len(mixture_weights._em_cache) == EM_CACHE_SIZE


# ------------------------------------------------- how the shrinkage is chosen
def test_point_scores_by_hand():
    stacked = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]])  # 2 voters, 2 points
    codes = np.array([0, 2])
    weights = np.array([0.75, 0.25])
    likelihoods = true_class_likelihoods(stacked, codes)
    # Mixture rows: [0.75, 0.25, 0] (true class 0) and [0, 1, 0] (true class 2).
    np.testing.assert_allclose(
        point_scores(stacked, codes, likelihoods, weights, "log-likelihood"),
        np.log([0.99 * 0.75 + 0.01 / 3, 0.01 / 3]),
    )
    np.testing.assert_allclose(point_scores(stacked, codes, likelihoods, weights, "brier"), [-0.125, -2.0])
    np.testing.assert_array_equal(point_scores(stacked, codes, likelihoods, weights, "accuracy"), [1.0, 0.0])


def test_one_se_rule_takes_the_average_unless_the_gain_exceeds_the_noise():
    rng = np.random.default_rng(12)
    # Grid: index 0 selective, index 1 the average. Per-point scores, the selective one better on average.
    noise = rng.normal(size=200)
    small_gain = np.stack([noise + 0.01, noise + rng.normal(scale=1.0, size=200)])
    assert choose(small_gain, small_gain.sum(axis=1), "best") == int(np.argmax(small_gain.sum(axis=1)))
    large_gain = np.stack([noise + 1.0, noise])
    assert choose(large_gain, large_gain.sum(axis=1), "one-se") == 0
    # A total within one standard error of the best: the rule moves to the average.
    close = np.stack([noise + 0.02 + rng.normal(scale=0.5, size=200), noise])
    assert close[0].sum() > close[1].sum()
    assert choose(close, close.sum(axis=1), "best") == 0 and choose(close, close.sum(axis=1), "one-se") == 1


def test_log_likelihood_shrinkage_is_the_fold_by_fold_total():
    """The default EMDecider picks lam by summed held-out log-likelihood, fold by fold (a naive loop)."""
    rng = np.random.default_rng(13)
    y = rng.integers(0, 3, 90)
    post = _noisy_voters(rng, y, 3, [0.8, 0.5, 0.45, 0.6])
    decider = EMDecider([0, 1, 2]).fit(post, y)
    L = true_class_likelihoods(np.stack(post), y)
    folds = np.arange(90) % 5
    totals = []
    for lam in SHRINKAGE_GRID:
        total = 0.0
        for f in range(5):
            w = em_weights(L[folds != f])
            total += np.sum(np.log(L[folds == f] @ ((1 - lam) * w + lam / 4)))
        totals.append(total)
    best = max(i for i, t in enumerate(totals) if t >= max(totals) - 1e-9)
    assert decider.shrinkage_ == SHRINKAGE_GRID[best]
    np.testing.assert_allclose(decider.weights_, (1 - SHRINKAGE_GRID[best]) * em_weights(L) + SHRINKAGE_GRID[best] / 4)


def test_brier_one_se_shrinks_at_least_as_much_as_brier_best():
    rng = np.random.default_rng(14)
    for seed in range(5):
        y = rng.integers(0, 2, 120)
        post = _noisy_voters(np.random.default_rng(seed), y, 2, [0.75, 0.7, 0.6, 0.55])
        best = EMDecider([0, 1], score="brier").fit(post, y)
        one_se = EMDecider([0, 1], score="brier", rule="one-se").fit(post, y)
        assert one_se.shrinkage_ >= best.shrinkage_


def _naive_own_one_se(post, y, own):
    """Naive loop of rule "own-one-se" with Brier scores: (own alone?, weights of the "one-se" rule)."""
    stacked, n, n_voters = np.stack(post), len(y), len(post)
    L = true_class_likelihoods(stacked, y)
    folds = np.arange(n) % 5
    onehot = np.eye(stacked.shape[2])[y]
    scores = np.zeros((len(SHRINKAGE_GRID), n))
    for g, lam in enumerate(SHRINKAGE_GRID):
        for f in range(5):
            w = (1 - lam) * em_weights(L[folds != f]) + lam / n_voters
            mix = np.tensordot(w, stacked[:, folds == f], axes=1)
            scores[g, folds == f] = -np.sum((mix - onehot[folds == f]) ** 2, axis=1)
    totals = scores.sum(axis=1)
    best = max(g for g in range(len(totals)) if totals[g] >= totals.max() - 1e-9)
    own_scores = -np.sum((stacked[own] - onehot) ** 2, axis=1)
    margin = np.sqrt(n * np.var(own_scores - scores[best], ddof=1))
    return own_scores.sum() >= totals[best] - margin - 1e-9


def test_own_one_se_rule_equals_a_naive_loop_and_otherwise_the_one_se_rule():
    outcomes = set()
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        y = rng.integers(0, 3, 120)
        own_accuracy = 0.55 + 0.04 * seed  # from clearly helped by the others to clearly best alone
        post = _noisy_voters(rng, y, 3, [0.5, own_accuracy, 0.5, 0.5])
        decider = EMDecider([0, 1, 2], score="brier", rule="own-one-se").fit(post, y, own=1)
        one_se = EMDecider([0, 1, 2], score="brier", rule="one-se").fit(post, y)
        expected = _naive_own_one_se(post, y, own=1)
        assert decider.own_alone_ == expected
        outcomes.add(expected)
        if expected:
            assert decider.weights_.tolist() == [0.0, 1.0, 0.0, 0.0]
        else:
            np.testing.assert_array_equal(decider.weights_, one_se.weights_)
        # No own voter: the one-SE rule.
        no_own = EMDecider([0, 1, 2], score="brier", rule="own-one-se").fit(post, y)
        np.testing.assert_array_equal(no_own.weights_, one_se.weights_)
        assert not no_own.own_alone_
    assert outcomes == {True, False}  # both branches were exercised


def test_one_se_margins_by_hand():
    scores = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 0.0]])
    reference = np.array([0.0, 1.0, 1.0])
    # Differences (1, 1, 3): variance 4/3, n = 3 -> sqrt(4); differences (0, -1, -1): var 1/3 -> 1.
    np.testing.assert_allclose(one_se_margins(scores, reference), [2.0, 1.0])


@pytest.mark.parametrize("own", [3, -1, True, 1.0, "0"])
def test_bad_own_index_is_refused(own):
    with pytest.raises(ValueError, match="own must be None or a voter index"):
        EMDecider([0, 1], score="brier", rule="own-one-se").fit([np.eye(2)[[0, 1]]] * 3, [0, 1], own=own)


@pytest.mark.parametrize("params, message", [({"score": "auc"}, "score must be"), ({"rule": "x"}, "rule must be")])
def test_bad_score_or_rule_is_refused(params, message):
    with pytest.raises(ValueError, match=message):
        EMDecider([0, 1], **params).fit([np.eye(2)[[0, 1]]] * 2, [0, 1])
