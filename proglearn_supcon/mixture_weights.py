"""Mixture weights of a task's voters, fitted on their held-out likelihoods.

The learned deciders (:mod:`proglearn_supcon.deciders`) weigh the voters'
posteriors, ``sum_j w_j p_j(y | x)`` with ``w`` on the simplex. Every weighting
here starts from the same matrix of *likelihoods*, ``L[i, j]``: voter ``j``'s
held-out posterior of point ``i``'s true class (:func:`true_class_likelihoods`),
and returns such weights:

* :func:`em_weights`, :func:`em_weights_on_subsets`: the weights that maximise
  the mean log-likelihood of the mixture (EM), for all points or for several
  subsets of them (cross-validation folds) in one loop, and
  :func:`em_weights_on_subsets_cached`, which remembers recent results for
  deciders that run the same EM;
* :func:`mean_log_likelihoods`, :func:`softmax_weights`: each voter's score
  and the softmax of the scores at a temperature;
* :func:`point_scores`, :func:`choose`: how the cross-validated deciders
  score a weighting on held-out points (log-likelihood, Brier score or
  accuracy) and pick their parameter from those scores (the best, or the
  one-standard-error rule).

Held-out log-likelihoods are computed from posteriors mixed with a little of
the uniform distribution, ``(1 - eps) p + eps / C`` (``eps`` = :data:`SMOOTHING`):
a kNN posterior is a fraction of ``k`` votes and is often exactly 0 for the
true class, whose log would be minus infinity. Mixing with a constant never
changes an argmax.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

__all__ = [
    "CV_RULES",
    "CV_SCORES",
    "EM_CACHE_SIZE",
    "SMOOTHING",
    "choose",
    "em_weights",
    "em_weights_on_subsets",
    "em_weights_on_subsets_cached",
    "mean_log_likelihoods",
    "one_se_margins",
    "point_scores",
    "softmax_weights",
    "true_class_likelihoods",
]

#: Share of the uniform distribution mixed into posteriors before taking logs.
SMOOTHING = 0.01


def true_class_likelihoods(stacked: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(n, n_voters) smoothed posterior of each point's true class under each voter.

    Parameters
    ----------
    stacked : ndarray of shape (n_voters, n, n_classes)
        Every voter's held-out posteriors of the points.
    codes : ndarray of shape (n,), int
        Column of each point's true class.
    """
    n_classes = stacked.shape[2]
    true = stacked[:, np.arange(stacked.shape[1]), codes].T
    return (1.0 - SMOOTHING) * true + SMOOTHING / n_classes


def em_weights(likelihoods: np.ndarray, max_iter: int = 500, tol: float = 1e-9) -> np.ndarray:
    """Simplex weights maximising the mean log of ``likelihoods @ w`` (EM for mixture weights).

    Parameters
    ----------
    likelihoods : ndarray of shape (n, n_voters), positive
        ``L[i, j]``: voter ``j``'s (smoothed) posterior of point ``i``'s class.
    max_iter : int, default=500
    tol : float, default=1e-9
        Stop once the mean log-likelihood improves by less.

    Returns
    -------
    ndarray of shape (n_voters,), float64
        Non-negative, summing to 1; EM from the uniform weights, so voters
        that are equal on every point keep equal weights.
    """
    return em_weights_on_subsets(likelihoods, np.ones((1, len(likelihoods)), dtype=bool), max_iter, tol)[0]


def em_weights_on_subsets(
    likelihoods: np.ndarray, subsets: np.ndarray, max_iter: int = 500, tol: float = 1e-9
) -> np.ndarray:
    """:func:`em_weights` of several subsets of the points at once (cross-validation folds), one loop for all.

    Parameters
    ----------
    likelihoods : ndarray of shape (n, n_voters), positive
    subsets : ndarray of shape (n_subsets, n), bool
        Row ``f`` marks the points of subset ``f`` (each non-empty).
    max_iter, tol
        As in :func:`em_weights`, for each subset: a converged subset's
        weights stop changing while the others go on.

    Returns
    -------
    ndarray of shape (n_subsets, n_voters), float64
    """
    masks = subsets.astype(np.float64)  # (F, n)
    counts = masks.sum(axis=1)
    weights = np.full((len(masks), likelihoods.shape[1]), 1.0 / likelihoods.shape[1])
    previous = np.full(len(masks), -np.inf)
    active = np.ones(len(masks), dtype=bool)
    for _ in range(max_iter):
        # While every subset still moves (most iterations) a slice selects them: a view of the whole arrays,
        # the same values in the same layouts as the indexed rows, so the same floating-point results.
        rows = slice(None) if active.all() else np.flatnonzero(active)
        mixture = likelihoods @ weights[rows].T  # (n, F_active)
        current = (masks[rows] * np.log(mixture).T).sum(axis=1) / counts[rows]
        still = current - previous[rows] >= tol
        previous[rows] = current
        if not still.all():
            idx = np.flatnonzero(active)
            active[idx[~still]] = False
            if not active.any():
                break
            mixture, rows = mixture[:, still], idx[still]
        # Responsibilities averaged over each subset's points: the EM update of mixture weights.
        ratio = ((masks[rows] / mixture.T) @ likelihoods) / counts[rows, None]
        updated = weights[rows] * ratio
        weights[rows] = updated / updated.sum(axis=1, keepdims=True)
    return weights


#: How many results :func:`em_weights_on_subsets_cached` keeps (the newest): a few KB each, and enough for
#: every task of a long sequence refitted at one step by two kinds of EM (the folds' and plain EM's).
EM_CACHE_SIZE = 512
_em_cache: OrderedDict = OrderedDict()
_em_cache_lock = threading.Lock()


def em_weights_on_subsets_cached(
    likelihoods: np.ndarray, subsets: np.ndarray, max_iter: int = 500, tol: float = 1e-9
) -> np.ndarray:
    """:func:`em_weights_on_subsets`, remembered for the last :data:`EM_CACHE_SIZE` distinct inputs.

    Several deciders run the same EM on the same held-out points (the
    shrunk-EM family differs only in how it scores the shrinkage amounts),
    and an experiment records all of them: the second and third get the
    first's weights instead of recomputing them. The key is a digest of the
    inputs' exact bytes, shapes and dtypes and of ``max_iter`` and ``tol``,
    so a hit returns exactly what the call would compute; each call gets its
    own copy.
    """
    likelihoods, subsets = np.asarray(likelihoods), np.asarray(subsets)
    digest = hashlib.blake2b(digest_size=32)
    for array in (likelihoods, subsets):
        # The memory order is part of the key: BLAS may round a product of differently laid out operands
        # differently, so only a call on the same layout is sure to give the same bits.
        digest.update(repr((array.shape, array.strides, array.dtype.str)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr((int(max_iter), float(tol))).encode())
    key = digest.digest()
    with _em_cache_lock:
        if key in _em_cache:
            _em_cache.move_to_end(key)
            return _em_cache[key].copy()
    weights = em_weights_on_subsets(likelihoods, subsets, max_iter, tol)
    with _em_cache_lock:
        _em_cache[key] = weights.copy()
        while len(_em_cache) > EM_CACHE_SIZE:
            _em_cache.popitem(last=False)
    return weights


def mean_log_likelihoods(likelihoods: np.ndarray) -> np.ndarray:
    """(n_voters,) each voter's mean log-likelihood over the points (columns of ``likelihoods``)."""
    return np.mean(np.log(likelihoods), axis=0)


def softmax_weights(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Weights proportional to ``exp(scores / temperature)``.

    ``temperature`` 0 shares the weight among the best scores (ties within
    1e-12), infinity gives the uniform weights.
    """
    if temperature == 0.0:
        best = scores >= scores.max() - 1e-12
        return best / best.sum()
    if np.isinf(temperature):
        return np.full(len(scores), 1.0 / len(scores))
    w = np.exp((scores - scores.max()) / temperature)
    return w / w.sum()


#: Held-out scores by which a cross-validated decider ranks its parameter's values (higher is better).
CV_SCORES = ("log-likelihood", "brier", "accuracy")
#: How the value is picked from the ranked scores: the best, the one-standard-error rule, or that rule
#: after the own voter alone (taken if its score is within one standard error of the best value's).
CV_RULES = ("best", "one-se", "own-one-se")


def point_scores(stacked: np.ndarray, codes: np.ndarray, likelihoods: np.ndarray, weights: np.ndarray, score: str):
    """(n,) score of each point under the mixture ``sum_j weights[j] * stacked[j]`` (higher is better).

    ``"log-likelihood"``: log of the smoothed mixture posterior of the true
    class, ``log(likelihoods @ weights)``; ``"brier"``: minus the squared
    distance between the mixture posterior and the one-hot label;
    ``"accuracy"``: 1 where the mixture's argmax is the true class (ties: the
    first class), else 0.

    Parameters
    ----------
    stacked : ndarray of shape (n_voters, n, n_classes)
        The voters' held-out posteriors.
    codes : ndarray of shape (n,), int
        Column of each point's class.
    likelihoods : ndarray of shape (n, n_voters)
        :func:`~proglearn_supcon.mixture_weights.true_class_likelihoods` of the two.
    weights : ndarray of shape (n_voters,)
    score : one of :data:`CV_SCORES`
    """
    if score == "log-likelihood":
        return np.log(likelihoods @ weights)
    mixture = np.tensordot(weights, stacked, axes=1)  # (n, n_classes)
    if score == "accuracy":
        return (mixture.argmax(axis=1) == codes).astype(np.float64)
    mixture[np.arange(len(codes)), codes] -= 1.0
    return -np.sum(mixture**2, axis=1)


def one_se_margins(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Standard error of each row's total minus ``reference``'s, from the paired per-point differences.

    ``sqrt(n * var(scores[g] - reference))`` over the ``n`` points (``ddof=1``):
    a total within this margin of the reference's is not told apart from it
    by these points.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n)
    reference : ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (n_rows,)
    """
    n = scores.shape[1]
    return np.sqrt(n * np.var(scores - reference, axis=1, ddof=1))


def choose(scores: np.ndarray, totals: np.ndarray, rule: str) -> int:
    """Index of the chosen grid value, the grid ordered from the most selective weighting to the average.

    Parameters
    ----------
    scores : ndarray of shape (n_grid, n)
        Each point's held-out score under each grid value.
    totals : ndarray of shape (n_grid,)
        Their sums over the points.
    rule : one of :data:`CV_RULES`
        ``"best"``: the largest total (ties within 1e-9: the larger index,
        nearer the average). ``"one-se"`` (and ``"own-one-se"``, whose
        preference for the own voter the decider applies first): the largest
        index whose total is at least the best total minus
        :func:`one_se_margins` from the best.
    """
    best = int(np.flatnonzero(totals >= totals.max() - 1e-9).max())
    if rule == "best":
        return best
    return int(np.flatnonzero(totals >= totals[best] - one_se_margins(scores, scores[best]) - 1e-9).max())
