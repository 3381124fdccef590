"""Tests of a run's diagnostics in every space and split (proglearn_supcon.experiments.diagnostics).

Known geometries (a collapsed regular simplex) and naive numpy on the head's
weights give the expected values; a tiny network checks that each view is
measured on exactly the points it names.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from proglearn_supcon import LifelongClassificationNetwork, NeuralClassificationTransformer
from proglearn_supcon.datasets import Task
from proglearn_supcon.experiments.diagnostics import pair_views, run_diagnostics, subsample_rows
from proglearn_supcon.metrics.decomposition import DECOMPOSITION_FIELDS
from proglearn_supcon.metrics.geometry import GEOMETRY_METRICS, embedding_geometry
from proglearn_supcon.runs.schema import DEFAULT_VIEW
from proglearn_supcon.training.encoders import ProjectionHead

VIEWS = [("encoder", "test"), ("encoder", "train"), ("projection", "test"), ("projection", "train")]


def random_rotation(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def transformer_with_head(head: nn.Module, embedding_dim: int, loss: str = "supcon"):
    """A transformer holding ``head`` as if it had trained it (project needs nothing else)."""
    transformer = NeuralClassificationTransformer(loss=loss)
    transformer.embedding_dim_ = embedding_dim
    transformer.head_ = head.eval()
    return transformer


def collapsed_simplex(counts, d: int, seed: int):
    """Every point on its class's vertex of a centred regular simplex, rotated into d dimensions."""
    n_classes = len(counts)
    vertices = np.eye(n_classes, d) - np.eye(n_classes, d).mean(axis=0)
    y = np.repeat(np.arange(n_classes), counts)
    return (2.5 * vertices[y] @ random_rotation(d, seed)).astype(np.float32), y


@pytest.mark.parametrize("loss, out_dim", [("supcon", 12), ("ce", 5)])
def test_collapsed_simplex_gives_the_known_values_in_every_view(loss, out_dim):
    d = 8
    # An isometric head without bias keeps the simplex regular and centred, so its
    # normalised output is one too (CE: 5 logits for 5 classes).
    head = nn.Linear(d, out_dim, bias=False)
    if out_dim >= d:  # orthonormal columns: an isometry of the whole space
        weight = random_rotation(out_dim, 3)[:, :d]
    else:  # 5 logits cannot hold 8 dimensions: map the simplex's 4-d span onto them isometrically
        span = np.linalg.svd(collapsed_simplex([1] * 5, d, seed=1)[0], full_matrices=False)[2][:4]
        weight = random_rotation(out_dim, 4)[:, :4] @ span
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
    transformer = transformer_with_head(head, d, loss)
    test = collapsed_simplex([6] * 5, d, seed=1)
    train = collapsed_simplex([3, 5, 7, 9, 11], d, seed=1)  # unequal classes, as a subsample may have
    views = pair_views(transformer, {"test": test, "train": train})
    assert list(views) == [("encoder", "test"), ("projection", "test"), ("encoder", "train"), ("projection", "train")]
    for view, metrics in views.items():
        assert tuple(metrics) == GEOMETRY_METRICS
        for name in ("nc1", "variance_ratio", "alignment", "angle_deviation", "norm_spread"):
            assert metrics[name] == pytest.approx(0.0, abs=1e-6), (view, name)
        n = len(test[1]) if view[1] == "test" else len(train[1])
        dim = d if view[0] == "encoder" else out_dim
        assert metrics["effective_rank_ceiling"] == min(n - 1, dim), view
    assert views[("encoder", "test")]["effective_rank"] == pytest.approx(4.0)  # 5 balanced vertices: 4 equal axes


def naive_collapse(U: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """tr(S_W) / tr(S_B) and the alignment of rows ``U`` by loops over points and pairs."""
    classes = np.unique(y)
    means = {c: U[y == c].mean(axis=0) for c in classes}
    centre = np.mean([means[c] for c in classes], axis=0)
    within = sum(np.sum((U[i] - means[y[i]]) ** 2) for i in range(len(y))) / len(y)
    between = sum(np.sum((means[c] - centre) ** 2) for c in classes) / len(classes)
    u = U / np.linalg.norm(U, axis=1, keepdims=True)
    pairs = [np.sum((u[i] - u[j]) ** 2) for i, j in itertools.permutations(range(len(y)), 2) if y[i] == y[j]]
    return within / between, float(np.mean(pairs))


@pytest.mark.parametrize("loss", ["supcon", "ce"])
def test_projection_metrics_match_naive_numpy_on_the_heads_weights(loss):
    rng = np.random.default_rng(7)
    d, n_classes = 10, 3
    torch.manual_seed(0)
    head = nn.Linear(d, n_classes) if loss == "ce" else ProjectionHead(d, hidden_dim=16, out_dim=6)
    transformer = transformer_with_head(head, d, loss)
    y = np.repeat(np.arange(n_classes), [8, 11, 14])
    X = (rng.normal(size=(n_classes, d))[y] + 0.7 * rng.normal(size=(len(y), d))).astype(np.float32)
    params = [p.detach().double().numpy() for p in head.parameters()]
    if loss == "ce":
        out = X @ params[0].T + params[1]  # the logits
    else:
        out = np.maximum(X @ params[0].T + params[1], 0.0) @ params[2].T + params[3]
    naive = out / np.linalg.norm(out, axis=1, keepdims=True)
    np.testing.assert_allclose(transformer.project(X), naive, rtol=1e-5, atol=1e-6)
    projected = pair_views(transformer, {"train": (X, y)})[("projection", "train")]
    ratio, alignment = naive_collapse(naive, y)
    assert projected["variance_ratio"] == pytest.approx(ratio, rel=1e-5)
    assert projected["alignment"] == pytest.approx(alignment, rel=1e-5)
    encoder = pair_views(transformer, {"train": (X, y)})[("encoder", "train")]
    assert (encoder["variance_ratio"], encoder["alignment"]) == pytest.approx(naive_collapse(X.astype(float), y))


def test_project_checks_its_input():
    transformer = transformer_with_head(nn.Linear(4, 2), 4, "ce")
    with pytest.raises(ValueError, match="embeddings have 3 columns, but this transformer's encoder outputs 4"):
        transformer.project(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        transformer.project(np.full((2, 4), np.nan))
    with pytest.raises(NotFittedError):
        NeuralClassificationTransformer().project(np.zeros((2, 4)))
    big = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_allclose(transformer.project(big, batch_size=3), transformer.project(big), rtol=1e-6)


def test_subsample_rows():
    y = np.repeat([0, 1, 2], [10, 20, 30])
    np.testing.assert_array_equal(subsample_rows(y, 60, seed=0), np.arange(60))  # small enough: every row
    rows = subsample_rows(y, 30, seed=1)
    assert len(rows) == 30 and np.all(np.diff(rows) > 0)
    assert np.bincount(y[rows]).tolist() == [5, 10, 15]  # stratified
    np.testing.assert_array_equal(rows, subsample_rows(y, 30, seed=1))
    assert not np.array_equal(rows, subsample_rows(y, 30, seed=2))
    assert len(subsample_rows(np.array([0, 1, 1, 1, 1]), 2, seed=0)) == 2  # a class of one: not stratified


@pytest.fixture(scope="module")
def tiny_run(fast_params):
    """Two 2-class feature tasks through a CE network, with what the experiment keeps for its diagnostics."""
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 2.5, size=(4, 6))
    tasks = []
    for classes in ([0, 1], [2, 3]):
        y_train, y_test = np.repeat(classes, 40), np.repeat(classes, 30)
        X_train = centres[y_train] + rng.normal(size=(80, 6))
        X_test = centres[y_test] + rng.normal(size=(60, 6))
        tasks.append((X_train, y_train, X_test, y_test, np.array(classes)))
    net = LifelongClassificationNetwork(loss="ce", random_state=0, **fast_params(epochs=3))
    for t, (X, y, *_) in enumerate(tasks):
        net.add_task(X, y, task_id=t)
    learner = net.learner_
    embeddings = [{i: learner.transform(task[2], i) for i in range(2)} for task in tasks]
    posteriors = [learner.voter_posteriors(embeddings[j], j) for j in range(2)]
    sequence = [Task(t, *task) for t, task in enumerate(tasks)]
    diagnostics = run_diagnostics(learner, embeddings, posteriors, sequence, random_state=5)
    return net, tasks, embeddings, diagnostics


@pytest.mark.slow
def test_each_view_measures_the_points_it_names(tiny_run):
    net, tasks, embeddings, diagnostics = tiny_run
    learner = net.learner_
    assert list(diagnostics.views) == VIEWS and diagnostics.geometry is diagnostics.views[DEFAULT_VIEW]
    for i, j in itertools.product(range(2), repeat=2):
        y_test = tasks[j][3]
        test = diagnostics.views[("encoder", "test")]
        expected = embedding_geometry(embeddings[j][i], y_test)
        assert {name: test[name][i, j] for name in GEOMETRY_METRICS} == pytest.approx(expected, nan_ok=True)
        projected = embedding_geometry(learner.transformers_[i].project(embeddings[j][i]), y_test)
        assert diagnostics.views[("projection", "test")]["nc1"][i, j] == pytest.approx(projected["nc1"])
        # CE's projection is its 2 normalised logits: the ceiling is 2, not the encoder's 256.
        assert diagnostics.views[("projection", "test")]["effective_rank_ceiling"][i, j] == 2
    for t in range(2):
        # The own transformer's training view: exactly the rows its loss was minimised on.
        data = learner.tasks_[t]
        trained = np.setdiff1d(np.arange(len(data.y)), data.voter_indices)
        loss_rows = trained[learner.transformers_[t].train_indices_]
        # less the epoch-selection split, where there is one
        assert len(loss_rows) == len(trained) - int(net.validation_fraction * len(trained))
        assert len(loss_rows) < len(tasks[t][3])  # fewer than the test points: none subsampled away
        expected = embedding_geometry(learner.transform(data.X[loss_rows], t), data.y[loss_rows])
        train = diagnostics.views[("encoder", "train")]
        assert train["nc1"][t, t] == pytest.approx(expected["nc1"])
        assert train["effective_rank_ceiling"][t, t] == len(loss_rows) - 1
    # Another transformer's training view: the task's data its voter was fitted on, subsampled to the test size.
    fitted, labels = learner.voter_fit_embeddings(0, 1)
    np.testing.assert_allclose(fitted, learner.transform(tasks[1][0], 0), rtol=1e-6)
    np.testing.assert_array_equal(labels, tasks[1][1])
    assert diagnostics.views[("encoder", "train")]["effective_rank_ceiling"][0, 1] == len(tasks[1][3]) - 1


@pytest.mark.slow
def test_decomposition_adds_up_to_the_networks_accuracy(tiny_run):
    net, tasks, _, diagnostics = tiny_run
    parts = diagnostics.decomposition
    assert tuple(parts) == DECOMPOSITION_FIELDS
    for t, (_, _, X_test, y_test, _) in enumerate(tasks):
        assert parts["network_accuracy"][t] == np.mean(net.predict(X_test, t) == y_test)
        assert parts["own_accuracy"][t] == diagnostics.transfer_matrix[t, t]
        assert parts["other_accuracy"][t] == diagnostics.transfer_matrix[1 - t, t]
        total = parts["own_accuracy"][t] + parts["other_term"][t] + parts["good_diversity"][t]
        assert total - parts["bad_diversity"][t] == pytest.approx(parts["network_accuracy"][t], abs=1e-12)
    assert (parts["n_voters"] == 2).all()


@pytest.mark.slow
def test_voter_fit_embeddings_of_an_unknown_voter(tiny_run):
    with pytest.raises(ValueError, match="no voter for task 5 on transformer 0"):
        tiny_run[0].learner_.voter_fit_embeddings(0, 5)


@pytest.mark.slow
@pytest.mark.parametrize("storage", [{"voter_dtype": "float16"}, {"voter_dim": 3}])
def test_voter_fit_embeddings_are_the_encoders_whatever_the_voters_store(fast_params, storage):
    # 16-bit or reduced voters hold something else than the encoder's embedding,
    # which the training-split diagnostics (and the projection head) need.
    rng = np.random.default_rng(4)
    X = [rng.normal(size=(60, 6)) for _ in range(2)]
    y = [np.repeat([0, 1], 30), np.repeat([2, 3], 30)]
    net = LifelongClassificationNetwork(loss="ce", random_state=0, **fast_params(epochs=2), **storage)
    for t in range(2):
        net.add_task(X[t], y[t], task_id=t)
    learner = net.learner_
    for i, j in itertools.product(range(2), repeat=2):
        fitted, labels = learner.voter_fit_embeddings(i, j)
        rows = learner.tasks_[j].voter_indices if i == j else slice(None)
        assert fitted.dtype == np.float32 and fitted.shape[1] == learner.transformers_[i].embedding_dim_
        np.testing.assert_array_equal(fitted, learner.transform(X[j][rows], i))
        np.testing.assert_array_equal(labels, y[j][rows])
