"""Where a progressive network's accuracy on a task comes from: its own voter, the others, their complementarity.

Task ``t``'s decider combines the posteriors of ``V`` voters, one per
transformer. With ``a_i`` the accuracy of voter ``i`` alone on the task's
test set (``a_own`` that of the task's own transformer, ``a_other`` the mean
of the other ``V - 1``) and ``a_net`` the accuracy of the network's
prediction, the decomposition is the identity::

    a_net = a_own + w (a_other - a_own) + good - bad,      w = (V - 1) / V

term by term:

* ``a_own``: the own-task voter (the single-task learner);
* ``other_term = w (a_other - a_own)``: what replacing the own voter's
  accuracy by the mean voter accuracy ``a_mean = (a_own + (V - 1) a_other) / V``
  changes; negative when the other transformers' voters are worse on the task;
* ``ensemble_gain = good - bad = a_net - a_mean``: what combining the voters
  adds beyond their mean accuracy, split per test point ``x`` with ``c(x)``
  the fraction of voters that are right at ``x``:

  - ``good = mean_x [network right at x] (1 - c(x))``: the voters that were
    wrong where the network was right (outvoted errors, Brown & Kuncheva's
    "good diversity");
  - ``bad = mean_x [network wrong at x] c(x)``: the voters that were right
    where the network was wrong (outvoted correct votes, "bad diversity").

The identity holds exactly for any combiner and any number of classes:
at a point the network gets right, ``1 = c(x) + (1 - c(x))``; at one it gets
wrong, ``0 = c(x) - c(x)``; averaging over points gives ``a_net = a_mean +
good - bad``, and ``a_mean = a_own + w (a_other - a_own)`` by definition.
With one voter ``other_term``, ``good`` and ``bad`` are 0.

Two descriptive measures of how complementary the voters' errors are come
with it (they are not terms of the identity): the mean over voter pairs of
their ``disagreement`` (share of test points where their predictions differ)
and of their ``error_correlation`` (Pearson correlation of the two 0/1 error
indicators; pairs where one voter's errors are constant are left out).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils.validation import column_or_1d

__all__ = ["DECOMPOSITION_FIELDS", "AccuracyDecomposition", "accuracy_decomposition"]


class AccuracyDecomposition(NamedTuple):
    """One task's network accuracy and its parts (see the module docstring); all floats.

    ``network_accuracy == own_accuracy + other_term + good_diversity - bad_diversity``
    and ``ensemble_gain == good_diversity - bad_diversity``, up to rounding.
    """

    network_accuracy: float
    own_accuracy: float
    other_accuracy: float
    mean_voter_accuracy: float
    other_term: float
    ensemble_gain: float
    good_diversity: float
    bad_diversity: float
    disagreement: float
    error_correlation: float
    n_voters: float


#: Names of the fields of :class:`AccuracyDecomposition`, in order.
DECOMPOSITION_FIELDS = AccuracyDecomposition._fields


def accuracy_decomposition(voter_predictions, network_predictions, y_true, own: int) -> AccuracyDecomposition:
    """Decompose a task's network accuracy into its own voter, the other voters and their complementarity.

    Parameters
    ----------
    voter_predictions : array-like of shape (V, n)
        Row ``i``: the labels voter ``i`` alone predicts for the task's ``n``
        test points (any label dtype comparable with ``y_true``).
    network_predictions : array-like of shape (n,)
        The labels the network (the decider over all ``V`` voters) predicts.
    y_true : array-like of shape (n,)
        The true labels.
    own : int
        Row of ``voter_predictions`` that is the task's own transformer's voter.

    Returns
    -------
    AccuracyDecomposition
        ``other_accuracy`` and ``error_correlation`` are NaN with one voter,
        ``error_correlation`` also when no pair of voters has varying errors.

    Raises
    ------
    ValueError
        If the shapes do not match, there is no test point, or ``own`` is not a row.
    """
    y_true = column_or_1d(y_true)
    network_predictions = column_or_1d(network_predictions)
    voters = np.asarray(voter_predictions)
    if voters.ndim != 2 or voters.shape[0] == 0:
        raise ValueError(f"voter_predictions must be 2-D (V, n) with V >= 1 voters, got shape {voters.shape}.")
    n_voters, n = voters.shape
    if n == 0 or len(y_true) != n or len(network_predictions) != n:
        raise ValueError(
            f"voter_predictions (V, n) = {voters.shape}, network_predictions ({len(network_predictions)},) and "
            f"y_true ({len(y_true)},) must describe the same n >= 1 test points."
        )
    if not (isinstance(own, (int, np.integer)) and 0 <= own < n_voters):
        raise ValueError(f"own must be a row of voter_predictions (0..{n_voters - 1}), got {own!r}.")
    right = voters == y_true[None, :]  # (V, n)
    network_right = network_predictions == y_true
    accuracy = right.mean(axis=1)
    share_right = right.mean(axis=0)  # c(x)
    others = np.delete(accuracy, own)
    own_accuracy = float(accuracy[own])
    other_accuracy = float(others.mean()) if others.size else float("nan")
    weight = (n_voters - 1) / n_voters
    good = float(np.mean(np.where(network_right, 1.0 - share_right, 0.0)))
    bad = float(np.mean(np.where(network_right, 0.0, share_right)))
    return AccuracyDecomposition(
        network_accuracy=float(network_right.mean()),
        own_accuracy=own_accuracy,
        other_accuracy=other_accuracy,
        mean_voter_accuracy=float(accuracy.mean()),
        other_term=weight * (other_accuracy - own_accuracy) if others.size else 0.0,
        ensemble_gain=good - bad,
        good_diversity=good,
        bad_diversity=bad,
        disagreement=_mean_disagreement(voters),
        error_correlation=_mean_error_correlation(~right),
        n_voters=float(n_voters),
    )


def _mean_disagreement(voters: np.ndarray) -> float:
    """Mean over voter pairs of the share of points where their predictions differ (0 with one voter)."""
    pairs = np.triu_indices(len(voters), k=1)
    if not len(pairs[0]):
        return 0.0
    return float(np.mean([np.mean(voters[i] != voters[j]) for i, j in zip(*pairs)]))


def _mean_error_correlation(errors: np.ndarray) -> float:
    """Mean Pearson correlation of the voters' 0/1 errors over pairs where both vary; NaN if none does."""
    varying = errors[errors.std(axis=1) > 0].astype(np.float64)
    if len(varying) < 2:
        return float("nan")
    return float(np.corrcoef(varying)[np.triu_indices(len(varying), k=1)].mean())
