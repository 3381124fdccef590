"""Transfer efficiency of a task sequence (ProgLearn, Vogelstein et al.).

Indexing convention used everywhere in this module:

* ``acc[j, t]`` is the accuracy on task ``t`` after learning tasks ``0..j``;
  it is undefined (NaN) for ``t > j`` (the task has not been seen yet);
* ``single_acc[t]`` is the accuracy on task ``t`` of a learner trained on
  task ``t`` alone;
* errors are estimated from the accuracies as described below.

Error estimate
--------------
Transfer efficiencies divide errors, so a task learned perfectly (accuracy 1,
error 0) would make them infinite although a finite test set only shows that
the error is small. When the number of test samples ``n`` of a task is known
(``n_test``), its error is the add-one smoothed estimate (Laplace's rule of
succession)::

    e = (mistakes + 1) / (n + 2),   mistakes = n * (1 - accuracy),

which lies strictly between 0 and 1, so every ratio is finite and positive;
it differs from ``1 - accuracy`` by less than ``1 / (n + 2)`` (0.1% of an
error for CIFAR-100's 1000 test images per task). Without ``n_test`` the raw
error ``1 - accuracy`` is used and a zero error is refused with a
``ValueError``. The accuracies themselves (results files, accuracy panels)
are always the raw ones.

Transfer efficiencies are ratios of errors, so a value above 1 means that the
other tasks helped (lower error) and below 1 that they hurt:

* forward transfer ``FTE_t = e_single(t) / e(acc[t, t])``;
* backward transfer ``BTE[j, t] = e(acc[t, t]) / e(acc[j, t])``, ``j >= t``;
* transfer ``TE[j, t] = e_single(t) / e(acc[j, t]) = FTE_t * BTE[j, t]``.

For the statistics across runs (shifts, slots) use
:func:`~proglearn_supcon.metrics.intervals.mean_and_interval` or, for two variants
measured on the same runs, :func:`~proglearn_supcon.metrics.intervals.paired_difference`
(:mod:`proglearn_supcon.metrics.intervals`; both are importable from here too).
Averaging is usually done on the log scale (``log_*`` fields) because ratios
are multiplicative; ``exp`` of the mean log is the geometric mean.

The accuracies of every transformer's voter alone on every task, the
cross-task view behind these numbers, come from :func:`transfer_matrix`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import column_or_1d

from proglearn_supcon.metrics.intervals import mean_and_interval, paired_difference

__all__ = [
    "TransferMetrics",
    "smoothed_error",
    "transfer_metrics",
    "mean_and_interval",
    "paired_difference",
    "transfer_matrix",
]


@dataclass(frozen=True)
class TransferMetrics:
    """Transfer efficiencies of one run of ``T`` tasks.

    All arrays are float64. Entries for unseen tasks (``t > j``) are NaN;
    every other entry is finite and positive (errors are never 0, see the
    module docstring), except where a single-task accuracy is NaN.

    Attributes
    ----------
    fte : ndarray of shape (T,), float64
        Forward transfer efficiency, ``fte[t] = e_single(t) / e(acc[t, t])``.
    bte : ndarray of shape (T, T), float64
        Backward transfer efficiency, ``bte[j, t] = e(acc[t, t]) / e(acc[j, t])``
        for ``j >= t``; the diagonal is 1.
    te : ndarray of shape (T, T), float64
        Transfer efficiency, ``te[j, t] = e_single(t) / e(acc[j, t])`` for
        ``j >= t``; its diagonal equals ``fte``.
    log_fte, log_bte, log_te : ndarray, float64
        Natural logarithms of ``fte``, ``bte`` and ``te`` (same shapes).
    final_accuracy : float
        Mean accuracy over all tasks after learning the last one,
        ``mean(acc[T - 1, :])``.
    mean_accuracy : ndarray of shape (T,), float64
        ``mean_accuracy[j] = mean(acc[j, :j + 1])``, the mean accuracy over the
        tasks seen after learning task ``j``.
    """

    fte: np.ndarray
    bte: np.ndarray
    te: np.ndarray
    log_fte: np.ndarray
    log_bte: np.ndarray
    log_te: np.ndarray
    final_accuracy: float
    mean_accuracy: np.ndarray

    @property
    def n_tasks(self) -> int:
        """Number of tasks ``T``."""
        return self.fte.shape[0]


def _validate(acc: np.ndarray, single_acc: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``acc``/``single_acc`` follow the module's convention."""
    if acc.ndim != 2 or acc.shape[0] != acc.shape[1] or acc.shape[0] == 0:
        raise ValueError(f"acc must be a non-empty square 2-D array (T, T); got shape {acc.shape}")
    n_tasks = acc.shape[0]
    if single_acc.shape != (n_tasks,):
        raise ValueError(f"single_acc must have shape ({n_tasks},) to match acc {acc.shape}; got {single_acc.shape}")
    for name, values in (("acc", acc), ("single_acc", single_acc)):
        # NaN compares False, so it passes here; +-inf and out-of-range values do not.
        bad = ~np.isnan(values) & ~((values >= 0.0) & (values <= 1.0))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} values must lie in [0, 1] or be NaN; {name}{list(where)} = {values[where]}")
    seen = np.tril(np.ones((n_tasks, n_tasks), dtype=bool))
    missing = seen & ~np.isfinite(acc)
    if missing.any():
        j, t = (int(i) for i in np.argwhere(missing)[0])
        raise ValueError(
            f"acc[{j}, {t}] is NaN: the lower triangle including the diagonal (task t evaluated "
            "after learning tasks 0..j, j >= t) must be finite; only entries above the diagonal may be NaN"
        )


def _n_test(n_test, n_tasks: int) -> np.ndarray:
    """``n_test`` (scalar or per task) as a float64 array of shape (T,); ``ValueError`` if invalid."""
    values = np.asarray(n_test, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(n_tasks, float(values))
    if values.shape != (n_tasks,):
        raise ValueError(f"n_test must be a scalar or have shape ({n_tasks},); got shape {values.shape}")
    if not (np.all(np.isfinite(values)) and np.all(values >= 1) and np.all(values == np.round(values))):
        raise ValueError(f"n_test must hold positive integers (test samples per task); got {values.tolist()}")
    return values


def smoothed_error(accuracy, n_test) -> np.ndarray:
    """Add-one smoothed error ``(n * (1 - accuracy) + 1) / (n + 2)``, i.e. ``(mistakes + 1) / (n + 2)``.

    Parameters
    ----------
    accuracy : array_like of float
        Accuracies in ``[0, 1]`` (NaN passes through).
    n_test : array_like of int
        Test samples behind each accuracy, broadcastable against ``accuracy``.

    Returns
    -------
    ndarray of float64
        Shape of the broadcast; values strictly between 0 and 1.

    Examples
    --------
    >>> float(smoothed_error(1.0, 98))   # no mistake in 98
    0.01
    """
    accuracy = np.asarray(accuracy, dtype=np.float64)
    n_test = np.asarray(n_test, dtype=np.float64)
    return (n_test * (1.0 - accuracy) + 1.0) / (n_test + 2.0)


def transfer_metrics(acc: np.ndarray, single_acc: np.ndarray, n_test=None) -> TransferMetrics:
    """Forward, backward and overall transfer efficiency of one run.

    Parameters
    ----------
    acc : array_like of shape (T, T), float
        ``acc[j, t]`` is the accuracy on task ``t`` after learning tasks
        ``0..j``. Entries above the diagonal (``t > j``) are ignored and may be
        NaN; the lower triangle including the diagonal must be finite.
    single_acc : array_like of shape (T,), float
        ``single_acc[t]`` is the single-task accuracy of task ``t``. A NaN
        entry (not measured) makes ``fte[t]`` and ``te[:, t]`` NaN.
    n_test : int or array_like of shape (T,), optional
        Number of test samples of each task (one int for all). When given,
        errors are the smoothed ``(mistakes + 1) / (n_test + 2)`` of
        :func:`smoothed_error`, and every efficiency is finite. When omitted,
        errors are ``1 - accuracy`` and must not be 0.

    Returns
    -------
    TransferMetrics
        See :class:`TransferMetrics`.

    Raises
    ------
    ValueError
        If ``acc`` is not square 2-D, ``single_acc`` does not have length
        ``T``, a value lies outside ``[0, 1]`` (NaN aside), or the lower
        triangle of ``acc`` (diagonal included) holds a NaN, ``n_test`` is
        not positive integers of the right shape, or an accuracy is exactly
        1 while ``n_test`` is omitted.

    Examples
    --------
    >>> m = transfer_metrics([[0.5, np.nan], [0.6, 0.75]], [0.5, 0.5])
    >>> m.fte.tolist(), float(m.bte[1, 0])
    ([1.0, 2.0], 1.25)
    >>> m = transfer_metrics([[1.0]], [0.9], n_test=98)   # errors 1/100 and 10.8/100
    >>> round(float(m.fte[0]), 6)
    10.8
    """
    acc = np.asarray(acc, dtype=np.float64)
    single_acc = np.asarray(single_acc, dtype=np.float64)
    _validate(acc, single_acc)
    n_tasks = acc.shape[0]
    seen = np.tril(np.ones((n_tasks, n_tasks), dtype=bool))

    if n_test is None:
        error = np.where(seen, 1.0 - acc, np.nan)
        single_error = 1.0 - single_acc
        zero = np.argwhere(seen & (acc == 1.0))
        if len(zero) or np.any(single_acc == 1.0):
            where = (
                f"acc[{zero[0][0]}, {zero[0][1]}]" if len(zero) else f"single_acc[{int(np.argmax(single_acc == 1.0))}]"
            )
            raise ValueError(
                f"{where} is 1 (zero error), which would make a ratio infinite; pass n_test (test samples "
                "per task) to use the smoothed error (mistakes + 1) / (n_test + 2)"
            )
    else:
        counts = _n_test(n_test, n_tasks)
        # Column t of acc is task t, so task t's count applies to the whole column.
        error = np.where(seen, smoothed_error(acc, counts[np.newaxis, :]), np.nan)
        single_error = smoothed_error(single_acc, counts)
    diagonal_error = np.diag(error)
    fte = single_error / diagonal_error
    bte = diagonal_error[np.newaxis, :] / error
    te = single_error[np.newaxis, :] / error
    log_fte, log_bte, log_te = np.log(fte), np.log(bte), np.log(te)

    mean_accuracy = np.array([acc[j, : j + 1].mean() for j in range(n_tasks)])
    return TransferMetrics(
        fte=fte,
        bte=bte,
        te=te,
        log_fte=log_fte,
        log_bte=log_bte,
        log_te=log_te,
        final_accuracy=float(acc[-1].mean()),
        mean_accuracy=mean_accuracy,
    )


def transfer_matrix(posteriors: Sequence[Mapping], classes: Sequence, y_true: Sequence) -> np.ndarray:
    """Accuracy of every transformer's voter alone on every task's test set.

    ``out[i, j]`` is the accuracy on task ``j``'s test set of the voter of
    transformer ``i`` for task ``j`` (a kNN voter fitted on task ``j``'s data in
    transformer ``i``'s embedding), predicting ``classes[j][argmax_c
    posteriors[j][i][:, c]]``. It takes the posteriors the voters already gave,
    so nothing is retrained, re-embedded or re-voted; from a learner they are
    ``learner.voters_[(i, j)].predict_proba(embedding of task j's test set by
    transformer i)`` (``ProgressiveLearner.voter_posteriors``). For a
    progressive learner the diagonal is the single-task accuracy; ``i < j`` is
    an earlier transformer on a later task (forward), ``i > j`` a later
    transformer on an earlier task (backward).

    Parameters
    ----------
    posteriors : sequence of T mappings of int to ndarray of shape (n_j, n_classes_j)
        ``posteriors[j][i]``: transformer ``i``'s voter posteriors on task ``j``'s
        test set, for every ``i`` in ``0..T-1``; columns follow ``classes[j]``.
    classes : sequence of T array-likes of shape (n_classes_j,)
        Task ``j``'s classes, in the posteriors' column order.
    y_true : sequence of T array-likes of shape (n_j,)
        Task ``j``'s test labels.

    Returns
    -------
    ndarray of shape (T, T), float64
        Rows are transformers, columns tasks.

    Raises
    ------
    ValueError
        If the three sequences differ in length, a transformer's posteriors
        are missing, or posteriors do not have shape ``(n_j, n_classes_j)``.
    """
    n_tasks = len(y_true)
    if not len(posteriors) == len(classes) == n_tasks:
        raise ValueError(
            f"posteriors, classes and y_true must have one entry per task; got {len(posteriors)}, "
            f"{len(classes)} and {n_tasks}."
        )
    missing = [(i, j) for j in range(n_tasks) for i in range(n_tasks) if i not in posteriors[j]]
    if missing:
        raise ValueError(f"no posteriors for (transformer, task) pairs {missing}.")
    out = np.empty((n_tasks, n_tasks))
    for j in range(n_tasks):
        labels, task_classes = column_or_1d(y_true[j]), np.asarray(classes[j])
        for i in range(n_tasks):
            proba = np.asarray(posteriors[j][i])
            if proba.shape != (len(labels), len(task_classes)):
                raise ValueError(
                    f"posteriors[{j}][{i}] has shape {proba.shape}, expected ({len(labels)}, {len(task_classes)}) "
                    f"(test samples, classes of task {j})."
                )
            out[i, j] = np.mean(task_classes[np.argmax(proba, axis=1)] == labels)
    return out
