"""Tests of the averaging decider."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from proglearn_supcon.deciders import SimpleArgmaxAverage


def posteriors(n=5, c=3, t=4, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random((t, n, c))
    return list(p / p.sum(axis=2, keepdims=True))


def test_predict_proba_is_the_mean():
    post = posteriors()
    proba = SimpleArgmaxAverage(classes=[0, 1, 2]).predict_proba(post)
    assert proba.shape == (5, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba, sum(post) / len(post))


def test_single_voter_is_returned_unchanged():
    post = posteriors(t=1)
    np.testing.assert_allclose(SimpleArgmaxAverage([0, 1, 2]).predict_proba(post), post[0])


def test_accepts_tuples_lists_and_integer_arrays():
    a, b = [[1, 0], [0, 1]], np.array([[0, 1], [0, 1]])
    np.testing.assert_allclose(SimpleArgmaxAverage([0, 1]).predict_proba((a, b)), [[0.5, 0.5], [0, 1]])


@pytest.mark.parametrize(
    "classes, sorted_classes",
    [([3, 7, 11], [3, 7, 11]), ([11, 3, 7], [3, 7, 11]), (["dog", "cat", "emu"], ["cat", "dog", "emu"])],
)
def test_predict_returns_original_labels(classes, sorted_classes):
    post = posteriors()
    decider = SimpleArgmaxAverage(classes)
    assert decider.classes == classes  # stored as given
    np.testing.assert_array_equal(decider.classes_, sorted_classes)
    expected = np.array(sorted_classes)[np.mean(post, axis=0).argmax(axis=1)]
    np.testing.assert_array_equal(decider.predict(post), expected)


def test_predict_with_two_string_classes():
    post = [np.array([[0.8, 0.2], [0.1, 0.9]]), np.array([[0.4, 0.6], [0.3, 0.7]])]
    np.testing.assert_array_equal(SimpleArgmaxAverage(["dog", "cat"]).predict(post), ["cat", "dog"])


def test_ties_go_to_the_first_class():
    post = [np.array([[0.5, 0.5]])]
    assert SimpleArgmaxAverage([4, 2]).predict(post)[0] == 2


def test_sklearn_conventions():
    decider = SimpleArgmaxAverage(classes=[1, 2])
    assert decider.get_params() == {"classes": [1, 2]}
    np.testing.assert_array_equal(clone(decider).classes_, [1, 2])


@pytest.mark.parametrize(
    "post",
    [
        [],
        [np.ones((3, 2)), np.ones((4, 2))],  # different n
        [np.ones((3, 2)), np.ones((3, 3))],  # different C
        [np.ones((3, 3))],  # C differs from the number of classes
        [np.ones(3)],  # not 2-D
        [np.ones((2, 3, 2))],
        [np.array([[np.nan, 1.0]])],
        np.ones((3, 2)),  # one matrix, not a sequence of them
    ],
)
def test_bad_posteriors(post):
    decider = SimpleArgmaxAverage(classes=["a", "b"])
    with pytest.raises(ValueError):
        decider.predict_proba(post)
    with pytest.raises(ValueError):
        decider.predict(post)


@pytest.mark.parametrize("classes", [[], [[0, 1]], 3])
def test_bad_classes(classes):
    with pytest.raises(ValueError):
        SimpleArgmaxAverage(classes).predict_proba([np.ones((1, 2))])
