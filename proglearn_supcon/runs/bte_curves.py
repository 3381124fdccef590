"""Backward transfer of task 1 in the adversarial sequences, from their results files.

Both sequences (:mod:`proglearn_supcon.datasets.adversarial`) measure one
thing: how the error of task 1 changes when transformers that know nothing
useful about it vote on it. With ``e`` the smoothed error of
:func:`~proglearn_supcon.metrics.transfer.smoothed_error` (``n_test`` test images of
task 1; ``(mistakes + 1) / (n_test + 2)``, so every ratio is finite):

* **label shuffle**: ``BTE_1(k) = e(task 1 after task 1) / e(task 1 after task k)``
  for ``k = 1..T`` tasks seen (``accuracy[0, 0]`` and ``accuracy[k - 1, 0]`` of
  a run); one curve per run (shift, slot);
* **rotation**: ``BTE(angle) = e(task 1, its own transformer) / e(task 1, both
  transformers)`` (``accuracy[0, 0]`` and ``accuracy[1, 0]`` of the run of
  that angle); one curve per repetition, over its angles.

:class:`BTECurves` holds these as an (R, X) array with a cluster label per
row, for :func:`~proglearn_supcon.metrics.intervals.mean_and_interval` and
:func:`~proglearn_supcon.metrics.intervals.paired_difference`. The clusters are the
independent units of each design:

* label shuffle: the **shift**, as in the 10x10 summaries: the slots of a
  shift share its class split and test images;
* rotation: the **repetition**. All angles of a repetition share its data
  split, its test images and task 1's transformer (trained once and reused),
  so they are one sample of the whole curve, not independent samples; two
  repetitions share nothing but the recipe. Each row is a repetition, so at
  each angle the interval is over repetitions, and a summary over angles must
  average each repetition first (as the rows make natural).

How fast a curve falls is :func:`curve_slopes`: each row's least-squares
slope of BTE against ``x``, one number per curve, so the rows (and their
clusters) stay the units of the interval and a paired difference of slopes
answers "does A fall faster than B" with every point of the curve at once.

Like :mod:`proglearn_supcon.runs.analysis`, this needs no matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from proglearn_supcon.metrics.transfer import smoothed_error
from proglearn_supcon.runs.analysis import check_task_counts
from proglearn_supcon.runs.results import describe_run
from proglearn_supcon.runs.schema import RunResult

__all__ = ["ADVERSARIAL_PROTOCOLS", "SLOPE_UNITS", "BTECurves", "bte_curves", "curve_slopes", "runs_protocol"]

#: Protocols whose results are BTE curves, and the name of each curve's x axis.
ADVERSARIAL_PROTOCOLS = {"label-shuffle": "n_tasks_seen", "rotation": "angle"}
#: The step of ``x`` a slope is given per, and its name: one task added, or 90 degrees.
SLOPE_UNITS = {"label-shuffle": (1.0, "per task"), "rotation": (90.0, "per 90 degrees")}


@dataclass(frozen=True)
class BTECurves:
    """Task 1's backward transfer over the runs of one variant, one row per curve.

    Attributes
    ----------
    protocol : {"label-shuffle", "rotation"}
    x : ndarray of shape (X,), int64
        Tasks seen ``1..T`` (label shuffle) or angles in degrees (rotation), ascending.
    keys : tuple of length R
        Each row's run: ``(shift, slot)`` (label shuffle) or the repetition (rotation).
    clusters : ndarray of shape (R,), int64
        Each row's independent unit: its shift, or its repetition.
    bte : ndarray of shape (R, X), float64
        ``bte[r, i]``: the row's BTE at ``x[i]``; NaN where that run is missing
        (a rotation angle not run in that repetition).
    """

    protocol: str
    x: np.ndarray
    keys: tuple
    clusters: np.ndarray
    bte: np.ndarray

    @property
    def x_name(self) -> str:
        """``"n_tasks_seen"`` or ``"angle"``."""
        return ADVERSARIAL_PROTOCOLS[self.protocol]


def runs_protocol(runs: Sequence[RunResult]) -> str:
    """The one protocol of ``runs``; ``ValueError`` if they mix protocols or it has no BTE curve."""
    protocols = sorted({run.protocol for run in runs})
    if len(protocols) != 1:
        raise ValueError(f"the runs mix protocols {protocols}; give each protocol its own results folder")
    (protocol,) = protocols
    if protocol not in ADVERSARIAL_PROTOCOLS:
        raise ValueError(
            f"these are {protocol} runs; BTE curves are for --protocol {' or '.join(ADVERSARIAL_PROTOCOLS)} "
            "(plot and compare draw the 10x10 runs)"
        )
    return protocol


def _task1_bte(run: RunResult, rows: Sequence[int]) -> np.ndarray:
    """``e(accuracy[0, 0]) / e(accuracy[j, 0])`` for ``j`` in ``rows``; ``ValueError`` naming the run if unusable."""
    name = describe_run(run.variant, run.shift, run.slot, run.protocol)
    accuracy = run.accuracy[[0, *rows], 0]
    if not np.isfinite(accuracy).all():
        raise ValueError(f"{name}: task 1 has no accuracy after some of its tasks or transformers")
    if run.n_test_per_task is None:
        raise ValueError(f"{name}: the results file does not record n_test_per_task, which the error needs")
    error = smoothed_error(accuracy, run.n_test_per_task)
    return error[0] / error[1:]


def bte_curves(runs: Sequence[RunResult]) -> BTECurves:
    """Task 1's BTE curves of the runs of one variant (see the module docstring).

    Parameters
    ----------
    runs : sequence of RunResult
        Runs of one variant and one adversarial protocol, e.g. from
        :func:`~proglearn_supcon.runs.results.load_runs`.

    Returns
    -------
    BTECurves
        Label shuffle: one row per run, in the order given. Rotation: one row
        per repetition (ascending), one column per angle any run has.

    Raises
    ------
    ValueError
        If ``runs`` is empty, mixes protocols or is not of an adversarial
        protocol, label-shuffle runs have different task counts, or a run lacks
        an accuracy of task 1 or its test-set size.
    """
    if not runs:
        raise ValueError("no runs")
    protocol = runs_protocol(runs)
    if protocol == "label-shuffle":
        n_tasks = check_task_counts(runs, runs[0].variant)
        keys = tuple((int(run.shift), int(run.slot)) for run in runs)
        bte = np.stack([_task1_bte(run, range(n_tasks)) for run in runs])
        return BTECurves(protocol, np.arange(1, n_tasks + 1), keys, np.array([k[0] for k in keys]), bte)
    repetitions = sorted({int(run.shift) for run in runs})
    angles = sorted({int(run.slot) for run in runs})
    bte = np.full((len(repetitions), len(angles)), np.nan)
    for run in runs:
        bte[repetitions.index(run.shift), angles.index(run.slot)] = _task1_bte(run, [1])[0]
    return BTECurves(protocol, np.array(angles), tuple(repetitions), np.array(repetitions), bte)


def curve_slopes(curves: BTECurves) -> np.ndarray:
    """Each row's least-squares slope of BTE against ``x``, per :data:`SLOPE_UNITS` step of ``x``.

    ``slope_r = step * sum_i (x_i - mean x)(b_ri - mean b_r) / sum_i (x_i - mean x)^2``
    over the points ``i`` where row ``r`` has a value (a missing angle is
    left out of that row's fit, not filled in). Negative: BTE falls as the
    tasks drift apart (rotation) or as useless tasks are added (label shuffle).

    Parameters
    ----------
    curves : BTECurves

    Returns
    -------
    ndarray of shape (R,), float64
        NaN for a row with fewer than two points (no slope to fit). An
        infinite BTE makes its row's slope NaN.
    """
    step, _ = SLOPE_UNITS[curves.protocol]
    x = curves.x.astype(np.float64)
    slopes = np.full(len(curves.bte), np.nan)
    for row, bte in enumerate(curves.bte):
        have = ~np.isnan(bte)
        if have.sum() < 2:
            continue
        dx = x[have] - x[have].mean()
        with np.errstate(invalid="ignore"):  # inf - inf: the slope is undefined, NaN
            slopes[row] = step * np.dot(dx, bte[have] - bte[have].mean()) / np.dot(dx, dx)
    return slopes
