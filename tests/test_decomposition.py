"""Tests of proglearn_supcon.metrics.decomposition: the parts add up to the network accuracy, and match hand counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from proglearn_supcon.deciders import SimpleArgmaxAverage
from proglearn_supcon.metrics.decomposition import DECOMPOSITION_FIELDS, accuracy_decomposition

Y = np.array([0, 0, 1, 1, 2, 2])
# Rows: the own voter (4 of 6 right), two others (4 and 3 of 6 right).
VOTERS = np.array([[0, 0, 1, 0, 2, 1], [0, 1, 1, 1, 0, 2], [1, 0, 1, 0, 2, 0]])
NETWORK = np.array([0, 0, 1, 1, 2, 0])  # 5 of 6 right: wrong only on the last point


def test_tiny_example_by_hand():
    parts = accuracy_decomposition(VOTERS, NETWORK, Y, own=0)
    # Share of voters right per point: 2/3, 2/3, 1, 1/3, 2/3, 1/3. The network is right on the
    # first five: good = (1/3 + 1/3 + 0 + 2/3 + 1/3) / 6; wrong on the last: bad = (1/3) / 6.
    expected = {
        "network_accuracy": 5 / 6,
        "own_accuracy": 4 / 6,
        "other_accuracy": 7 / 12,
        "mean_voter_accuracy": 11 / 18,
        "other_term": (2 / 3) * (7 / 12 - 4 / 6),
        "good_diversity": 5 / 18,
        "bad_diversity": 1 / 18,
        "ensemble_gain": 4 / 18,
        "disagreement": (4 / 6 + 2 / 6 + 5 / 6) / 3,
        "n_voters": 3.0,
    }
    for name, value in expected.items():
        assert getattr(parts, name) == pytest.approx(value, abs=1e-15), name
    total = parts.own_accuracy + parts.other_term + parts.good_diversity - parts.bad_diversity
    assert total == pytest.approx(parts.network_accuracy, abs=1e-15)
    assert DECOMPOSITION_FIELDS == parts._fields


@pytest.mark.parametrize("n_voters, n_classes, seed", [(1, 3, 0), (2, 2, 1), (5, 10, 2), (10, 4, 3)])
def test_parts_add_up_to_the_decider_accuracy(n_voters, n_classes, seed):
    rng = np.random.default_rng(seed)
    classes = np.array([f"c{k}" for k in range(n_classes)])  # string labels, as a task may have
    y = classes[rng.integers(n_classes, size=200)]
    # kNN-like posteriors (multiples of 1/7, many ties), tilted towards the truth.
    truth = (classes[None, :] == y[:, None]).astype(float)
    posteriors = [
        np.round(7 * (0.5 * truth + rng.dirichlet(np.ones(n_classes), size=200))) / 7 for _ in range(n_voters)
    ]
    voters = np.stack([classes[np.argmax(p, axis=1)] for p in posteriors])
    network = SimpleArgmaxAverage(classes).predict(posteriors)
    own = n_voters // 2
    parts = accuracy_decomposition(voters, network, y, own=own)
    assert parts.network_accuracy == np.mean(network == y)
    assert parts.own_accuracy == np.mean(voters[own] == y)
    assert parts.own_accuracy + parts.other_term + parts.good_diversity - parts.bad_diversity == pytest.approx(
        parts.network_accuracy, abs=1e-12
    )
    assert parts.ensemble_gain == pytest.approx(parts.network_accuracy - parts.mean_voter_accuracy, abs=1e-12)
    assert parts.good_diversity >= 0 and parts.bad_diversity >= 0
    if n_voters == 1:
        assert (parts.other_term, parts.good_diversity, parts.bad_diversity, parts.disagreement) == (0, 0, 0, 0)
        assert np.isnan(parts.other_accuracy) and np.isnan(parts.error_correlation)
    else:
        others = [np.mean(voters[i] == y) for i in range(n_voters) if i != own]
        assert parts.other_accuracy == pytest.approx(np.mean(others))
        pairs = list(itertools.combinations(range(n_voters), 2))
        assert parts.disagreement == pytest.approx(np.mean([np.mean(voters[i] != voters[j]) for i, j in pairs]))
        errors = voters != y
        # A voter with no error (or only errors) has no correlation: its pairs are left out.
        naive = [np.corrcoef(errors[i], errors[j])[0, 1] for i, j in pairs if errors[i].std() and errors[j].std()]
        assert parts.error_correlation == pytest.approx(np.mean(naive))


def test_constant_errors_leave_the_pair_out_of_the_correlation():
    perfect = Y.copy()
    parts = accuracy_decomposition(np.stack([perfect, VOTERS[1], VOTERS[2]]), NETWORK, Y, own=0)
    errors = np.stack([VOTERS[1] != Y, VOTERS[2] != Y])
    assert parts.error_correlation == pytest.approx(np.corrcoef(errors)[0, 1])


@pytest.mark.parametrize(
    "voters, network, y, own, match",
    [
        (VOTERS, NETWORK[:5], Y, 0, "same n >= 1 test points"),
        (VOTERS, NETWORK, Y[:5], 0, "same n >= 1 test points"),
        (VOTERS[0], NETWORK, Y, 0, "2-D"),
        (VOTERS, NETWORK, Y, 3, "own must be a row"),
        (VOTERS, NETWORK, Y, -1, "own must be a row"),
        (np.empty((3, 0)), np.empty(0), np.empty(0), 0, "same n >= 1"),
    ],
)
def test_bad_input_is_a_clear_error(voters, network, y, own, match):
    with pytest.raises(ValueError, match=match):
        accuracy_decomposition(voters, network, y, own=own)
