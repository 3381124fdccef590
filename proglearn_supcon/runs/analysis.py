"""Numbers computed from results files: per-run transfer metrics, pairing, formatting.

The core of the figures and reports, without drawing: :mod:`proglearn_supcon.plotting`
draws these numbers and :mod:`proglearn_supcon.experiments` prints them. It
depends only on the results files (:mod:`proglearn_supcon.runs.results`,
:mod:`proglearn_supcon.runs.schema`) and :mod:`proglearn_supcon.metrics.transfer`
(never on plotting or experiments), so it can be used without matplotlib.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from proglearn_supcon.metrics.transfer import transfer_metrics
from proglearn_supcon.runs.results import load_runs, stack_runs
from proglearn_supcon.runs.schema import RunResult

__all__ = [
    "PairingWarning",
    "RunMetrics",
    "check_task_counts",
    "format_keys",
    "format_mean_interval",
    "mean_over_seen",
    "nanmean_quiet",
    "own_and_other",
    "pair_loaded_runs",
    "pair_runs",
    "run_key",
    "run_metrics",
    "triangle_means",
]


@dataclass(frozen=True)
class RunMetrics:
    """Transfer metrics of several runs of one variant, stacked on a leading run axis.

    ``R`` runs of ``T`` tasks; indexing as in :func:`proglearn_supcon.metrics.transfer.transfer_metrics`
    (``[j, t]``: task ``t`` after learning tasks ``0..j``; NaN for ``t > j``).
    """

    keys: tuple[tuple[int, int], ...]  # (shift, slot) of each run
    accuracy: np.ndarray  # (R, T, T)
    single_task_accuracy: np.ndarray  # (R, T)
    fte: np.ndarray  # (R, T)
    bte: np.ndarray  # (R, T, T)
    te: np.ndarray  # (R, T, T)
    mean_accuracy: np.ndarray  # (R, T): mean accuracy over tasks 0..j after learning 0..j

    @property
    def n_runs(self) -> int:
        return self.fte.shape[0]

    @property
    def shifts(self) -> np.ndarray:
        """(R,) int: the shift of each run, the cluster of its interval.

        The slots of a shift share its test images, so intervals over runs
        treat them as one sample (``clusters=metrics.shifts`` in
        :mod:`proglearn_supcon.metrics.intervals`).
        """
        return np.array([shift for shift, _ in self.keys], dtype=int)

    @property
    def n_tasks(self) -> int:
        return self.fte.shape[1]


def run_key(run: RunResult) -> tuple[int, int]:
    return (int(run.shift), int(run.slot))


def format_keys(keys: Sequence[tuple[int, int]]) -> str:
    """``(shift, slot)`` pairs as text, e.g. ``"(1, 0), (2, 0)"``; ``"none"`` when empty."""
    return ", ".join(f"({shift}, {slot})" for shift, slot in keys) or "none"


def check_task_counts(runs: Sequence[RunResult], variant: str) -> int:
    """The number of tasks shared by ``runs``; ``ValueError`` naming ``variant`` if they differ."""
    counts = sorted({r.n_tasks for r in runs})
    if len(counts) != 1:
        detail = ", ".join(f"{format_keys([run_key(r)])}: {r.n_tasks}" for r in runs)
        raise ValueError(f"runs of variant {variant!r} have different numbers of tasks ({detail})")
    return counts[0]


def run_metrics(runs: Sequence[RunResult]) -> RunMetrics:
    """Transfer metrics of each run (``transfer_metrics`` on each run's accuracy matrix).

    Errors are smoothed with the run's number of test samples per task
    (``n_test_per_task`` of its results file), so a task learned perfectly
    gives finite efficiencies; a file that does not record it uses raw errors.
    """
    accuracy, single = stack_runs(list(runs))
    per_run = []
    for r, run in enumerate(runs):
        try:
            per_run.append(transfer_metrics(accuracy[r], single[r], n_test=run.n_test_per_task))
        except ValueError as exc:
            raise ValueError(f"run {run.variant!r} shift {run.shift} slot {run.slot}: {exc}") from exc
    return RunMetrics(
        keys=tuple(run_key(r) for r in runs),
        accuracy=accuracy,
        single_task_accuracy=single,
        fte=np.stack([np.asarray(m.fte, dtype=float) for m in per_run]),
        bte=np.stack([np.asarray(m.bte, dtype=float) for m in per_run]),
        te=np.stack([np.asarray(m.te, dtype=float) for m in per_run]),
        mean_accuracy=np.stack([np.asarray(m.mean_accuracy, dtype=float) for m in per_run]),
    )


def mean_over_seen(matrix: np.ndarray) -> np.ndarray:
    """Mean over the tasks seen: ``out[..., j] = nanmean(matrix[..., j, 0..j])``.

    ``matrix`` has shape (..., T, T) with NaN for unseen tasks; the result has
    shape (..., T) and is NaN where no seen task has a finite value.
    """
    matrix = np.asarray(matrix, dtype=float)
    n_tasks = matrix.shape[-1]
    seen = np.tril(np.ones((n_tasks, n_tasks), dtype=bool))
    masked = np.where(seen, matrix, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, silently
        return np.nanmean(masked, axis=-1)


def nanmean_quiet(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``np.nanmean`` without the "Mean of empty slice" warning (all-NaN gives NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def own_and_other(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-task values of a (R, T, T) ``[run, transformer, task]`` array.

    Returns
    -------
    own : ndarray of shape (R, T)
        ``values[r, t, t]``: transformer ``t`` on its own task.
    other : ndarray of shape (R, T)
        ``mean_{j != t} values[r, t, j]``: transformer ``t`` on the other
        tasks (NaN-aware; NaN when ``T = 1``).
    """
    values = np.asarray(values, dtype=np.float64)
    n_tasks = values.shape[-1]
    off = ~np.eye(n_tasks, dtype=bool)
    return np.diagonal(values, axis1=1, axis2=2).copy(), nanmean_quiet(np.where(off, values, np.nan), axis=2)


def triangle_means(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """Per-run means (R,) of the diagonal, forward (``i < j``) and backward (``i > j``) parts.

    ``matrices[r, i, j]`` with ``i`` the transformer and ``j`` the task, so
    ``i < j`` is an earlier transformer on a later task.
    """
    matrices = np.asarray(matrices, dtype=np.float64)
    i, j = np.indices(matrices.shape[1:])
    return {
        "diagonal": nanmean_quiet(matrices[:, i == j], axis=1),
        "forward": nanmean_quiet(matrices[:, i < j], axis=1),
        "backward": nanmean_quiet(matrices[:, i > j], axis=1),
    }


def format_mean_interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """``"mean ± half-width"`` of an interval ``[low, high]``; just ``"mean"`` when it is not finite.

    Parameters
    ----------
    mean, low, high : float
        A mean and its interval, e.g. from :func:`proglearn_supcon.metrics.transfer.mean_and_interval`
        (whose interval is NaN for fewer than two samples).
    digits : int, default 3
        Decimals of both numbers.

    Returns
    -------
    str
        For example ``"0.812 ± 0.031"``.
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


class PairingWarning(UserWarning):
    """The two variants do not have the same (shift, slot) runs; only the common ones are paired."""


def pair_runs(
    results_dir: str | os.PathLike, a: str, b: str, *, allow_mixed_recipes: bool = False
) -> tuple[list[RunResult], list[RunResult]]:
    """The runs of ``a`` and ``b`` that share a ``(shift, slot)``, in the same order.

    If the sets of ``(shift, slot)`` differ, only the common runs are kept and the
    message ``"pairing only the N common (shift, slot) runs: A has ...; B has ...
    (left out: ...)"`` is printed to stderr and issued as a :class:`PairingWarning`.

    ``allow_mixed_recipes`` is passed to :func:`~proglearn_supcon.runs.results.load_runs`.

    Raises
    ------
    FileNotFoundError
        If ``results_dir`` does not exist.
    ValueError
        If a variant has no results, a file is corrupt, a variant's runs mix
        recipes (unless ``allow_mixed_recipes``), its runs have different task counts, the
        two variants have different numbers of tasks (``"variants 'A' and 'B'
        have different numbers of tasks (A: 10, B: 5)"``), or no
        ``(shift, slot)`` is common to both.
    """
    runs_a = load_runs(results_dir, a, allow_mixed_recipes=allow_mixed_recipes)
    runs_b = load_runs(results_dir, b, allow_mixed_recipes=allow_mixed_recipes)
    return pair_loaded_runs(runs_a, runs_b, a, b)


def pair_loaded_runs(
    runs_a: Sequence[RunResult], runs_b: Sequence[RunResult], a: str, b: str
) -> tuple[list[RunResult], list[RunResult]]:
    """:func:`pair_runs` of runs already loaded (``runs_a`` of variant ``a``, ``runs_b`` of ``b``).

    The same checks, message and :class:`PairingWarning`; ``ValueError`` as
    :func:`pair_runs` for different task counts or no common run.
    """
    tasks_a = check_task_counts(runs_a, a)
    tasks_b = check_task_counts(runs_b, b)
    if tasks_a != tasks_b:
        raise ValueError(f"variants {a!r} and {b!r} have different numbers of tasks ({a}: {tasks_a}, {b}: {tasks_b})")
    by_a = {run_key(r): r for r in runs_a}
    by_b = {run_key(r): r for r in runs_b}
    common = sorted(by_a.keys() & by_b.keys())
    keys_text = f"{a} has {format_keys(sorted(by_a))}; {b} has {format_keys(sorted(by_b))}"
    if not common:
        raise ValueError(f"variants {a!r} and {b!r} have no (shift, slot) run in common, nothing to pair: {keys_text}")
    if by_a.keys() != by_b.keys():
        left_out = [f"{a} {format_keys([k])}" for k in sorted(by_a.keys() - by_b.keys())]
        left_out += [f"{b} {format_keys([k])}" for k in sorted(by_b.keys() - by_a.keys())]
        message = (
            f"pairing only the {len(common)} common (shift, slot) runs: {keys_text} (left out: {', '.join(left_out)})"
        )
        print(f"warning: {message}", file=sys.stderr)
        warnings.warn(message, PairingWarning, stacklevel=3)
    return [by_a[k] for k in common], [by_b[k] for k in common]
