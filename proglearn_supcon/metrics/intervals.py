"""Means over runs with Student-t confidence intervals, clustered where runs share data.

The runs of one shift of a task sequence are not independent: its slots
share the shift's class split and test images, so a slot's result says much
about its sibling's. Treating them as independent samples would count each
shift's test set several times and narrow the interval without more
evidence. With ``clusters`` (one label per run, e.g. its shift), the runs of
a cluster are first averaged, then the Student-t interval is taken over the
cluster means::

    m_c = mean of the runs in cluster c (NaN-aware)
    mean = mean_c m_c,   interval = mean -+ t_{(1 + confidence) / 2, C - 1} * s_c / sqrt(C)

with ``C`` the number of clusters that have a value and ``s_c`` the sample
standard deviation of their means. This is the usual analysis of a
clustered design when clusters are of about the same size (here every shift
has the same slots); it never narrows when a cluster's runs are duplicated.
Without ``clusters`` every run is its own cluster.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["cluster_means", "mean_and_interval", "n_clusters", "paired_difference"]


def _check_clusters(clusters: Sequence, n_runs: int) -> np.ndarray:
    clusters = np.asarray(clusters)
    if clusters.ndim != 1 or len(clusters) != n_runs:
        raise ValueError(f"clusters must have one label per run ({n_runs}); got shape {clusters.shape}")
    return clusters


def cluster_means(values: np.ndarray, clusters: Sequence, axis: int = 0) -> np.ndarray:
    """The NaN-aware mean of the runs of each cluster.

    Parameters
    ----------
    values : array_like of float
        Measurements, runs along ``axis``.
    clusters : sequence of hashable, length ``values.shape[axis]``
        The cluster of each run (e.g. its shift).
    axis : int, default 0
        The axis of the runs.

    Returns
    -------
    ndarray of float64
        ``values`` with ``axis`` replaced by one entry per distinct cluster,
        in sorted order of the labels; NaN where a cluster has no value.

    Raises
    ------
    ValueError
        If ``clusters`` does not have one label per run.
    """
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    clusters = _check_clusters(clusters, values.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cluster gives NaN
        means = [np.nanmean(values[clusters == label], axis=0) for label in np.unique(clusters)]
    return np.moveaxis(np.stack(means), 0, axis)


def n_clusters(clusters: Sequence | None, n_runs: int) -> int:
    """How many independent samples an interval over ``n_runs`` runs has: clusters, or runs."""
    return n_runs if clusters is None else len(np.unique(_check_clusters(clusters, n_runs)))


def mean_and_interval(
    values: np.ndarray, axis: int = 0, confidence: float = 0.95, clusters: Sequence | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs with a Student-t confidence interval of the mean.

    NaN entries are ignored position by position: at each position the mean is
    over its ``n`` non-NaN values and the interval is
    ``mean -+ t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)`` with ``s`` the
    sample standard deviation (``ddof=1``). Infinite values count as values
    (they make the mean infinite and the interval NaN). With ``clusters`` the
    values are the cluster means (:func:`cluster_means`; see the module
    docstring).

    Parameters
    ----------
    values : array_like of float
        Measurements, runs along ``axis`` (e.g. shape (R, T) for R runs).
    axis : int, default 0
        The axis of the runs, reduced away.
    confidence : float, default 0.95
        Coverage of the interval, in (0, 1).
    clusters : sequence of hashable or None, default None
        The cluster of each run (e.g. its shift); None: every run is its own.

    Returns
    -------
    mean, low, high : ndarray of float64 (float for 1-D ``values``)
        Shape of ``values`` without ``axis``. ``mean`` is NaN where a position
        has no value; ``low`` and ``high`` are NaN where it has fewer than 2
        (no spread can be estimated from one run or cluster).

    Raises
    ------
    ValueError
        If ``confidence`` is not strictly between 0 and 1, or ``clusters``
        does not have one label per run.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    values = np.asarray(values, dtype=np.float64)
    if clusters is not None:
        values = cluster_means(values, clusters, axis=axis)
    count = np.sum(~np.isnan(values), axis=axis)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # "Mean of empty slice" / "Degrees of freedom <= 0" are expected for
        # positions with 0 or 1 value; they become NaN, as documented.
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=axis)
        std = np.nanstd(values, axis=axis, ddof=1)
        quantile = stats.t.ppf(0.5 + confidence / 2.0, np.maximum(count - 1, 1))
        half_width = np.where(count >= 2, quantile * std / np.sqrt(count), np.nan)
    return mean, mean - half_width, mean + half_width


def paired_difference(
    a: np.ndarray, b: np.ndarray, axis: int = 0, confidence: float = 0.95, clusters: Sequence | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``a - b`` over paired runs with a Student-t confidence interval.

    Pairing (same shift and slot in ``a`` and ``b``) removes the run-to-run
    variation shared by both variants, so this interval is the right one for
    "is A better than B"; a positive mean means ``a`` is larger. The
    differences are taken pair by pair, then averaged within ``clusters``.

    Parameters
    ----------
    a, b : array_like of float, same shape
        Measurements of two variants, runs along ``axis`` in the same order.
        A NaN in either makes that pair missing.
    axis : int, default 0
        The axis of the runs.
    confidence : float, default 0.95
        Coverage of the interval, in (0, 1).
    clusters : sequence of hashable or None, default None
        The cluster of each pair (e.g. its shift); None: every pair is its own.

    Returns
    -------
    mean, low, high : ndarray of float64 (float for 1-D inputs)
        As in :func:`mean_and_interval` applied to ``a - b``.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` have different shapes, ``confidence`` is out of
        range, or ``clusters`` does not have one label per pair.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (paired runs); got {a.shape} and {b.shape}")
    with np.errstate(invalid="ignore"):
        # inf - inf is NaN: that pair is then treated as missing.
        difference = a - b
    return mean_and_interval(difference, axis=axis, confidence=confidence, clusters=clusters)
