"""Tests of the kNN voter against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsClassifier

from proglearn_supcon.voters import KNNClassificationVoter


def brute_force_proba(X_fit, y_fit, X_query, k, metric, classes):
    """Per-query loop: distances, stable argsort, class fractions of the first k."""
    X_fit, X_query = np.asarray(X_fit, np.float64), np.asarray(X_query, np.float64)
    if metric == "cosine":

        def unit(a):
            norms = np.linalg.norm(a, axis=1, keepdims=True)
            return a / np.where(norms > 0, norms, 1.0)

        X_fit, X_query = unit(X_fit), unit(X_query)
    codes = np.searchsorted(classes, y_fit)
    proba = np.zeros((len(X_query), len(classes)))
    for i, q in enumerate(X_query):
        if metric == "cosine":
            dist = 1.0 - X_fit @ q
        else:
            dist = np.sqrt(((X_fit - q) ** 2).sum(axis=1))
        nearest = np.argsort(dist, kind="stable")[:k]
        proba[i] = np.bincount(codes[nearest], minlength=len(classes)) / k
    return proba


def data(n_fit=120, n_query=80, d=6, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    # float32 data: the voter works on float32 embeddings, so the reference
    # sees exactly the same values.
    X_fit = rng.normal(size=(n_fit, d)).astype(np.float32)
    X_query = rng.normal(size=(n_query, d)).astype(np.float32)
    y_fit = rng.integers(0, n_classes, n_fit)
    return X_fit, y_fit, X_query


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [1, 3, 8, 120])
def test_matches_brute_force(metric, k):
    X_fit, y_fit, X_query = data()
    voter = KNNClassificationVoter(k=k, metric=metric).fit(X_fit, y_fit)
    expected = brute_force_proba(X_fit, y_fit, X_query, k, metric, np.unique(y_fit))
    proba = voter.predict_proba(X_query)
    assert proba.dtype == np.float64 and proba.shape == (80, 4)
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(voter.predict(X_query), np.unique(y_fit)[expected.argmax(axis=1)])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [1, 5, 10])
def test_matches_sklearn_brute(metric, k):
    X_fit, y_fit, X_query = data(seed=1)
    voter = KNNClassificationVoter(k=k, metric=metric).fit(X_fit, y_fit)
    ref = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric=metric).fit(X_fit, y_fit)
    np.testing.assert_allclose(voter.predict_proba(X_query), ref.predict_proba(X_query), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6, 9])
def test_ties_go_to_the_lower_fit_index_euclidean(k):
    # Integer points with many duplicates: distances are exact, ties are real.
    rng = np.random.default_rng(2)
    X_fit = rng.integers(0, 3, size=(60, 2)).astype(np.float32)
    X_query = rng.integers(0, 3, size=(40, 2)).astype(np.float32)
    y_fit = rng.integers(0, 5, 60)
    proba = KNNClassificationVoter(k=k, metric="euclidean").fit(X_fit, y_fit).predict_proba(X_query)
    expected = brute_force_proba(X_fit, y_fit, X_query, k, "euclidean", np.unique(y_fit))
    np.testing.assert_array_equal(proba, expected)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_ties_go_to_the_lower_fit_index_cosine(k):
    # Scaled axis vectors: all points on one axis are at exactly equal cosine distance.
    rng = np.random.default_rng(3)
    axes = rng.integers(0, 3, 30)
    X_fit = np.eye(3, dtype=np.float32)[axes] * rng.integers(1, 5, (30, 1)).astype(np.float32)
    X_query = rng.normal(size=(25, 3)).astype(np.float32)
    y_fit = rng.integers(0, 4, 30)
    proba = KNNClassificationVoter(k=k).fit(X_fit, y_fit).predict_proba(X_query)
    expected = brute_force_proba(X_fit, y_fit, X_query, k, "cosine", np.unique(y_fit))
    np.testing.assert_array_equal(proba, expected)


def test_nearest_mask_is_the_stable_argsort_prefix_for_every_k():
    """Many exact ties: the mask holds each row's k first points of a stable argsort, for k = 1..n."""
    import torch

    from proglearn_supcon.voters import _nearest_mask

    rng = np.random.default_rng(4)
    distances = rng.integers(0, 4, size=(30, 12)).astype(np.float64)
    order = np.argsort(distances, axis=1, kind="stable")
    for k in range(1, 13):
        expected = np.zeros_like(distances, dtype=bool)
        np.put_along_axis(expected, order[:, :k], True, axis=1)
        np.testing.assert_array_equal(_nearest_mask(torch.from_numpy(distances), k).numpy(), expected)


def test_absent_class_gets_a_zero_column():
    X_fit, y_fit, X_query = data()
    y_fit = np.where(y_fit == 1, 0, y_fit) * 10  # labels 0, 20, 30; 10 absent
    voter = KNNClassificationVoter(k=5, classes=[40, 30, 20, 10, 0]).fit(X_fit, y_fit)
    np.testing.assert_array_equal(voter.classes_, [0, 10, 20, 30, 40])
    proba = voter.predict_proba(X_query)
    assert proba.shape == (80, 5)
    assert (proba[:, [1, 4]] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    expected = brute_force_proba(X_fit, y_fit, X_query, 5, "cosine", voter.classes_)
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-12)


def test_string_labels():
    X_fit, y_fit, X_query = data(n_classes=3)
    names = np.array(["cat", "dog", "emu"])[y_fit]
    voter = KNNClassificationVoter(k=4).fit(X_fit, names)
    np.testing.assert_array_equal(voter.classes_, ["cat", "dog", "emu"])
    expected = KNNClassificationVoter(k=4).fit(X_fit, y_fit).predict(X_query)
    np.testing.assert_array_equal(voter.predict(X_query), np.array(["cat", "dog", "emu"])[expected])


@pytest.mark.parametrize("n_fit, k", [(1, 1), (2, 1), (3, 1), (4, 2), (100, 6), (1023, 9), (1024, 10)])
def test_default_k_is_floor_log2(n_fit, k):
    X_fit, y_fit, _ = data(n_fit=n_fit, d=2)
    assert KNNClassificationVoter().fit(X_fit, y_fit).k_ == k


def test_k_is_capped_at_the_fit_size():
    X_fit, y_fit, X_query = data(n_fit=5)
    voter = KNNClassificationVoter(k=50).fit(X_fit, y_fit)
    assert voter.k_ == 5
    expected = np.bincount(np.searchsorted(voter.classes_, y_fit), minlength=len(voter.classes_)) / 5
    np.testing.assert_allclose(voter.predict_proba(X_query), np.tile(expected, (80, 1)))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_batching_gives_the_same_result(metric):
    X_fit, y_fit, X_query = data(n_query=101)
    one = KNNClassificationVoter(k=7, metric=metric).fit(X_fit, y_fit).predict_proba(X_query)
    for batch_size in (1, 7, 100):
        batched = KNNClassificationVoter(k=7, metric=metric, batch_size=batch_size).fit(X_fit, y_fit)
        np.testing.assert_array_equal(batched.predict_proba(X_query), one)


def test_many_queries_are_cheap():
    X_fit, y_fit, X_query = data(n_fit=500, n_query=10_000, d=32)
    proba = KNNClassificationVoter(k=10).fit(X_fit, y_fit).predict_proba(X_query)
    assert proba.shape == (10_000, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_zero_vectors_with_cosine():
    X_fit, y_fit, X_query = data()
    X_fit[0] = 0
    X_query[:3] = 0
    proba = KNNClassificationVoter(k=5).fit(X_fit, y_fit).predict_proba(X_query)
    assert np.isfinite(proba).all()
    # A zero query is at distance 1 from everything: the first k fit points vote.
    expected = np.bincount(np.searchsorted(np.unique(y_fit), y_fit[:5]), minlength=4) / 5
    np.testing.assert_allclose(proba[:3], np.tile(expected, (3, 1)))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("storage_dtype", ["float32", "float16", "bfloat16"])
def test_fit_copies_the_embeddings(metric, storage_dtype):
    X_fit, y_fit, X_query = data()
    voter = KNNClassificationVoter(k=3, metric=metric, storage_dtype=storage_dtype).fit(X_fit, y_fit)
    before = voter.predict_proba(X_query)
    X_fit[:] = 0
    np.testing.assert_array_equal(voter.predict_proba(X_query), before)
    if storage_dtype == "float32":
        assert voter.X_fit_.dtype == np.float32


def test_sklearn_conventions():
    voter = KNNClassificationVoter(k=3, metric="euclidean", classes=[0, 1])
    assert voter.get_params() == {
        "k": 3,
        "metric": "euclidean",
        "classes": [0, 1],
        "batch_size": 4096,
        "storage_dtype": "float32",
    }
    assert clone(voter).get_params() == voter.get_params()
    with pytest.raises(NotFittedError):
        voter.predict_proba(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        voter.predict(np.zeros((2, 3)))


@pytest.mark.parametrize(
    "params", [{"k": 0}, {"k": -1}, {"k": 2.5}, {"k": True}, {"metric": "manhattan"}, {"batch_size": 0}]
)
def test_bad_parameters(params):
    X_fit, y_fit, _ = data()
    with pytest.raises(ValueError):
        KNNClassificationVoter(**params).fit(X_fit, y_fit)
    with pytest.raises(ValueError):
        KNNClassificationVoter(**params)._check_params()


@pytest.mark.parametrize(
    "X, y, classes",
    [
        (np.array([[0.0, np.nan]]), [0], None),
        (np.array([[0.0, np.inf]]), [0], None),
        (np.array([[0.0, 1e300]]), [0], None),  # overflows float32
        (np.zeros(3), [0, 1, 2], None),
        (np.zeros((3, 2, 2)), [0, 1, 2], None),
        (np.zeros((0, 2)), [], None),
        (np.zeros((3, 2)), [0, 1], None),
        (np.zeros((3, 2)), [0, 1, 2], [0, 1]),  # label 2 not among the classes
        (np.zeros((3, 2)), ["a", "b", "c"], [0, 1, 2]),
        (np.zeros((3, 2)), [0, 1, 2], [[0, 1, 2]]),
    ],
)
def test_bad_fit_input(X, y, classes):
    with pytest.raises(ValueError):
        KNNClassificationVoter(classes=classes).fit(X, y)


@pytest.mark.parametrize(
    "X",
    [
        np.array([[0.0, np.nan, 0.0]]),
        np.array([[np.inf, 0, 0]]),
        np.zeros(3),
        np.zeros((2, 4)),  # feature count differs from fit
        np.zeros((0, 3)),
    ],
)
def test_bad_predict_input(X):
    X_fit, y_fit, _ = data(d=3)
    voter = KNNClassificationVoter().fit(X_fit, y_fit)
    with pytest.raises(ValueError):
        voter.predict_proba(X)


# ----------------------------------------------------------------------------- 16-bit storage

SIXTEEN_BIT = ["float16", "bfloat16"]


def _unit(a):
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norms > 0, norms, 1.0)


def _distances_to(X_fit, X_query, metric):
    """(q, n) float64 distances, the brute-force way."""
    X_fit, X_query = np.asarray(X_fit, np.float64), np.asarray(X_query, np.float64)
    if metric == "cosine":
        return 1.0 - _unit(X_query) @ _unit(X_fit).T
    return np.sqrt(((X_query[:, None, :] - X_fit[None, :, :]) ** 2).sum(axis=2))


def _stored_float64(voter):
    import torch

    return torch.as_tensor(voter.X_fit_).double().numpy()


def relu_like(n_fit, n_query, d, seed):
    """Non-negative, partly sparse rows like the CNN's post-ReLU embeddings."""
    rng = np.random.default_rng(seed)
    X_fit = np.maximum(rng.normal(size=(n_fit, d)) + 0.5, 0).astype(np.float32)
    X_query = np.maximum(rng.normal(size=(n_query, d)) + 0.5, 0).astype(np.float32)
    return X_fit, X_query


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("storage_dtype", SIXTEEN_BIT)
def test_16bit_storage_keeps_the_predictions_where_no_neighbours_tie_within_the_rounding(metric, storage_dtype):
    X_fit, y_fit, X_query = data(n_fit=150, n_query=200, d=8)
    k = 5
    exact = KNNClassificationVoter(k=k, metric=metric).fit(X_fit, y_fit).predict_proba(X_query)
    voter = KNNClassificationVoter(k=k, metric=metric, storage_dtype=storage_dtype).fit(X_fit, y_fit)
    rounded = voter.predict_proba(X_query)
    # How far rounding moved each query's distances, and how far apart its
    # k-th and (k+1)-th neighbours are: beyond twice that, no swap is possible.
    original = _distances_to(X_fit, X_query, metric)
    moved = np.abs(_distances_to(_stored_float64(voter), X_query, metric) - original).max(axis=1)
    ordered = np.sort(original, axis=1)
    clear = ordered[:, k] - ordered[:, k - 1] > 2 * moved
    assert clear.mean() > 0.5  # the test says something about most queries
    np.testing.assert_array_equal(rounded[clear], exact[clear])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("storage_dtype", SIXTEEN_BIT)
def test_16bit_voter_is_an_exact_knn_over_the_stored_points(metric, storage_dtype):
    # Distances and norms come from the stored rows, so brute force on them agrees to the last vote.
    X_fit, y_fit, X_query = data(seed=4)
    voter = KNNClassificationVoter(k=6, metric=metric, storage_dtype=storage_dtype).fit(X_fit, y_fit)
    expected = brute_force_proba(_stored_float64(voter), y_fit, X_query, 6, metric, voter.classes_)
    np.testing.assert_allclose(voter.predict_proba(X_query), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("storage_dtype, tolerance", [("float16", 0.005), ("bfloat16", 0.02)])
def test_16bit_storage_is_close_to_float32_in_general(metric, storage_dtype, tolerance):
    """Stated tolerance on ReLU-like 256-d data, 2000 fit points, k=10: the mean L1
    change of a posterior is below ``tolerance`` (one swapped neighbour changes it
    by 0.2) and at least 98% (float16: 99.5%) of the predictions stay."""
    X_fit, X_query = relu_like(2000, 1000, 256, seed=0)
    y_fit = np.random.default_rng(1).integers(0, 5, len(X_fit))
    exact = KNNClassificationVoter(k=10, metric=metric).fit(X_fit, y_fit).predict_proba(X_query)
    rounded = KNNClassificationVoter(k=10, metric=metric, storage_dtype=storage_dtype).fit(X_fit, y_fit)
    rounded = rounded.predict_proba(X_query)
    assert np.abs(rounded - exact).sum(axis=1).mean() < tolerance
    agreement = np.mean(rounded.argmax(axis=1) == exact.argmax(axis=1))
    assert agreement >= (0.995 if storage_dtype == "float16" else 0.98)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_float16_keeps_more_of_the_ranking_than_bfloat16(metric):
    # One class per fit point and k=1: the prediction is the nearest neighbour itself.
    X_fit, X_query = relu_like(2000, 1000, 256, seed=0)
    ids = np.arange(len(X_fit))
    nearest = {
        dtype: KNNClassificationVoter(k=1, metric=metric, storage_dtype=dtype).fit(X_fit, ids).predict(X_query)
        for dtype in ("float32", *SIXTEEN_BIT)
    }
    changed = {dtype: np.mean(nearest[dtype] != nearest["float32"]) for dtype in SIXTEEN_BIT}
    assert changed["float16"] < changed["bfloat16"] < 0.01


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("storage_dtype", SIXTEEN_BIT)
def test_16bit_storage_halves_the_memory_and_rounds_each_value_once(metric, storage_dtype):
    import torch

    X_fit, y_fit, _ = data(d=16)
    voter = KNNClassificationVoter(metric=metric, storage_dtype=storage_dtype).fit(X_fit, y_fit)
    stored = torch.as_tensor(voter.X_fit_)
    assert stored.dtype == getattr(torch, storage_dtype) and stored.shape == X_fit.shape
    assert stored.element_size() * stored.numel() == X_fit.nbytes // 2
    # Cosine rows are stored at unit length (the metric ignores length), Euclidean ones as they are.
    original = _unit(X_fit) if metric == "cosine" else X_fit.astype(np.float64)
    eps = 2.0**-11 if storage_dtype == "float16" else 2.0**-8  # half an ulp, relative
    assert np.all(np.abs(stored.double().numpy() - original) <= eps * np.abs(original) + 1e-7)


def test_float16_euclidean_beyond_its_range_is_refused_and_cosine_is_rescaled():
    X_fit, y_fit, X_query = data()
    X_fit[3, 2] = 1e5  # float16 ends at 65504
    with pytest.raises(ValueError, match="float16's range.*bfloat16"):
        KNNClassificationVoter(metric="euclidean", storage_dtype="float16").fit(X_fit, y_fit)
    expected = KNNClassificationVoter(metric="euclidean", storage_dtype="bfloat16").fit(X_fit, y_fit)
    assert np.isfinite(expected.predict_proba(X_query)).all()
    voter = KNNClassificationVoter(metric="cosine", storage_dtype="float16").fit(X_fit * 1e30, y_fit)
    assert np.isfinite(voter.X_fit_).all() and np.isfinite(voter.predict_proba(X_query)).all()


@pytest.mark.parametrize("storage_dtype", SIXTEEN_BIT)
def test_zero_vectors_with_cosine_in_16bit(storage_dtype):
    X_fit, y_fit, X_query = data()
    X_fit[0] = 0
    X_query[:3] = 0
    proba = KNNClassificationVoter(k=5, storage_dtype=storage_dtype).fit(X_fit, y_fit).predict_proba(X_query)
    expected = np.bincount(np.searchsorted(np.unique(y_fit), y_fit[:5]), minlength=4) / 5
    np.testing.assert_allclose(proba[:3], np.tile(expected, (3, 1)))


@pytest.mark.parametrize("storage_dtype", ["float64", "int8", None, "FLOAT16"])
def test_bad_storage_dtype(storage_dtype):
    X_fit, y_fit, _ = data()
    with pytest.raises(ValueError, match="storage_dtype must be one of"):
        KNNClassificationVoter(storage_dtype=storage_dtype).fit(X_fit, y_fit)
