"""The diagnostics of two variants' paired runs, read from results files, and their summary table.

:func:`load_diagnostics` pairs the runs of two variants by ``(shift, slot)``
(:func:`proglearn_supcon.runs.analysis.pair_runs`) and stacks what their
``--diagnostics`` recorded: the transfer matrices, every view's geometry
metrics and the decomposition of the network's accuracy
(:class:`PairedDiagnostics`). :func:`summary_table` reduces them to the table
that ``proglearn-supcon geometry`` prints and writes beside its figure
(:mod:`proglearn_supcon.plotting.plot_geometry`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proglearn_supcon.metrics.geometry import GEOMETRY_METRICS
from proglearn_supcon.metrics.intervals import paired_difference
from proglearn_supcon.runs.analysis import (
    format_keys,
    nanmean_quiet,
    own_and_other,
    pair_runs,
    run_key,
    triangle_means,
)
from proglearn_supcon.runs.schema import DEFAULT_VIEW, RunResult

__all__ = [
    "DECOMPOSITION_ROWS",
    "REQUIRED_METRICS",
    "SUMMARY_COLUMNS",
    "PairedDiagnostics",
    "View",
    "load_diagnostics",
    "summary_table",
]

#: Metrics every run with diagnostics has (in the default view); the figure shows the others where recorded.
REQUIRED_METRICS = ("nc1", "angle_deviation", "effective_rank")
#: Decomposition fields summarised in the table (the descriptive ones too), in order.
DECOMPOSITION_ROWS = (
    "network_accuracy",
    "own_accuracy",
    "other_accuracy",
    "mean_voter_accuracy",
    "other_term",
    "ensemble_gain",
    "good_diversity",
    "bad_diversity",
    "disagreement",
    "error_correlation",
)
#: Columns of the summary table, in order.
SUMMARY_COLUMNS = ("metric", "space", "split", "a", "b", "difference", "ci_low", "ci_high", "n_runs")

View = tuple[str, str]


@dataclass(frozen=True)
class PairedDiagnostics:
    """Diagnostics of the paired runs of two variants, stacked on a leading run axis.

    ``transfer_a[r, i, j]`` is run ``r``'s transfer matrix of variant ``a``;
    ``views_a[(space, split)][name][r, i, j]`` its metric of transformer ``i``
    on task ``j`` in that view, for the views and metrics any paired run
    recorded (NaN in the runs that did not); ``geometry_a`` is
    ``views_a[DEFAULT_VIEW]``. All these arrays have shape (R, T, T), float64.
    ``decomposition_a[field][r, t]`` (R, T) is run ``r``'s decomposition of
    task ``t``'s network accuracy (NaN where not recorded); None when no
    paired run recorded one.
    """

    a: str
    b: str
    keys: tuple[tuple[int, int], ...]
    transfer_a: np.ndarray
    transfer_b: np.ndarray
    geometry_a: dict[str, np.ndarray]
    geometry_b: dict[str, np.ndarray]
    views_a: dict[View, dict[str, np.ndarray]] | None = None
    views_b: dict[View, dict[str, np.ndarray]] | None = None
    decomposition_a: dict[str, np.ndarray] | None = None
    decomposition_b: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        # Built from geometry alone (as before views existed): the default view only.
        for side in ("a", "b"):
            if getattr(self, f"views_{side}") is None:
                object.__setattr__(self, f"views_{side}", {DEFAULT_VIEW: getattr(self, f"geometry_{side}")})

    @property
    def n_runs(self) -> int:
        return self.transfer_a.shape[0]

    @property
    def n_tasks(self) -> int:
        return self.transfer_a.shape[1]

    @property
    def shifts(self) -> np.ndarray:
        """(R,) int: each paired run's shift, the cluster of the intervals."""
        return np.array([shift for shift, _ in self.keys], dtype=int)

    @property
    def views(self) -> list[View]:
        """The views of both variants, in the order recorded (the default view first)."""
        return list(self.views_a)


def _check_diagnostics(runs: list[RunResult], variant: str) -> None:
    """ValueError naming the runs of ``variant`` without diagnostics or without the required metrics."""
    without = [run_key(r) for r in runs if r.diagnostics is None]
    if without:
        raise ValueError(
            f"runs {format_keys(without)} (shift, slot) of variant {variant!r} have no diagnostics; "
            "rerun them with `python -m experiments.cifar_task_sequence ... --diagnostics`"
        )
    for run in runs:
        missing = set(REQUIRED_METRICS) - set(run.diagnostics.geometry)
        if missing:
            raise ValueError(
                f"run {format_keys([run_key(run)])} of variant {variant!r} lacks metrics {sorted(missing)}"
            )


def _all_views(runs: list[RunResult]) -> dict[View, list[str]]:
    """Every view any run has (the default view first), and per view every metric any run has in it.

    Metrics come in :data:`GEOMETRY_METRICS` order, then any others in the
    order first recorded.
    """
    seen: dict[View, list[str]] = {DEFAULT_VIEW: []}
    for run in runs:
        for view, metrics in run.diagnostics.views.items():
            names = seen.setdefault(view, [])
            names += [n for n in metrics if n not in names]
    return {
        view: [n for n in GEOMETRY_METRICS if n in names] + [n for n in names if n not in GEOMETRY_METRICS]
        for view, names in seen.items()
        if names
    }


def _stack_views(runs: list[RunResult], views: dict[View, list[str]]) -> dict[View, dict[str, np.ndarray]]:
    """(R, T, T) arrays per view and metric; NaN for the runs that did not record that view or metric."""
    missing = np.full_like(np.asarray(runs[0].diagnostics.transfer_matrix, dtype=np.float64), np.nan)

    def value(run: RunResult, view: View, name: str) -> np.ndarray:
        return run.diagnostics.views.get(view, {}).get(name, missing)

    return {
        view: {name: np.stack([value(r, view, name) for r in runs]).astype(np.float64) for name in names}
        for view, names in views.items()
    }


def _stack_decomposition(runs: list[RunResult], names: list[str]) -> dict[str, np.ndarray]:
    """Stacked (R, T) decomposition fields; NaN for the runs that did not record one."""
    n_tasks = np.asarray(runs[0].diagnostics.transfer_matrix).shape[0]
    missing = np.full(n_tasks, np.nan)
    parts = [r.diagnostics.decomposition or {} for r in runs]
    return {name: np.stack([p.get(name, missing) for p in parts]).astype(np.float64) for name in names}


def _decomposition_names(runs: list[RunResult]) -> list[str]:
    """The decomposition fields some run records, in the order first recorded."""
    names: list[str] = []
    for run in runs:
        names += [n for n in (run.diagnostics.decomposition or {}) if n not in names]
    return names


def load_diagnostics(
    results_dir: str | os.PathLike, a: str, b: str, *, allow_mixed_recipes: bool = False
) -> PairedDiagnostics:
    """The diagnostics of the runs of ``a`` and ``b`` paired by ``(shift, slot)``.

    Every view and metric that any paired run recorded is kept; the runs
    that did not record it (files written before that view existed) hold NaN
    there, so each view's means and intervals are over the runs that have it
    (the summary's ``n_runs`` says how many) and a mix of old and new files
    loses neither.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`proglearn_supcon.runs.analysis.pair_runs` (which takes
        ``allow_mixed_recipes``); also ValueError if a paired run has no
        diagnostics (made without ``--diagnostics``).
    """
    runs_a, runs_b = pair_runs(results_dir, a, b, allow_mixed_recipes=allow_mixed_recipes)
    _check_diagnostics(runs_a, a)
    _check_diagnostics(runs_b, b)
    views = _all_views(runs_a + runs_b)
    views_a, views_b = _stack_views(runs_a, views), _stack_views(runs_b, views)
    names = _decomposition_names(runs_a + runs_b)
    decomposition_a = _stack_decomposition(runs_a, names) if names else None
    decomposition_b = _stack_decomposition(runs_b, names) if names else None
    return PairedDiagnostics(
        a,
        b,
        tuple(run_key(r) for r in runs_a),
        np.stack([r.diagnostics.transfer_matrix for r in runs_a]),
        np.stack([r.diagnostics.transfer_matrix for r in runs_b]),
        views_a[DEFAULT_VIEW],
        views_b[DEFAULT_VIEW],
        views_a,
        views_b,
        decomposition_a,
        decomposition_b,
    )


def summary_table(d: PairedDiagnostics, confidence: float = 0.95) -> pd.DataFrame:
    """Per-variant means over runs and their paired difference, one row per (quantity, space, split).

    Each quantity is first reduced to one number per run, then averaged over
    runs (``a``, ``b``); ``difference`` is the mean over runs of ``a - b`` and
    ``ci_low``/``ci_high`` its Student-t ``confidence`` interval over shifts,
    the runs of a shift averaged first since they share its test images (NaN
    with one shift). Rows:

    * ``transfer_diagonal``: mean of ``T[t, t]`` (the single-task accuracy);
    * ``transfer_forward``: mean of ``T[i, j]`` over ``i < j``;
    * ``transfer_backward``: mean of ``T[i, j]`` over ``i > j``
      (these three: the voters' space, ``"encoder"``, on the ``"test"`` split);
    * ``<metric>_own`` and ``<metric>_other`` for every metric of every view
      (``space``, ``split``): the mean over tasks of the solid and the dashed
      curve of the figure (:func:`own_and_other`); ``effective_rank_ceiling``
      among them, where recorded;
    * ``decomposition_<field>`` for the fields of :data:`DECOMPOSITION_ROWS`,
      where recorded: the mean over tasks of task ``t``'s decomposition after
      the last task (test split).

    ``n_runs`` counts the paired runs behind a row: those where both variants
    recorded the quantity (fewer than all for a view that older files lack).
    """
    per_run = {}
    triangles_a, triangles_b = triangle_means(d.transfer_a), triangle_means(d.transfer_b)
    for part in ("diagonal", "forward", "backward"):
        per_run[(f"transfer_{part}", *DEFAULT_VIEW)] = (triangles_a[part], triangles_b[part])
    for view in d.views:
        for name in d.views_a[view]:
            (own_a, other_a), (own_b, other_b) = (
                own_and_other(d.views_a[view][name]),
                own_and_other(d.views_b[view][name]),
            )
            per_run[(f"{name}_own", *view)] = (nanmean_quiet(own_a, axis=1), nanmean_quiet(own_b, axis=1))
            per_run[(f"{name}_other", *view)] = (nanmean_quiet(other_a, axis=1), nanmean_quiet(other_b, axis=1))
    if d.decomposition_a is not None:
        for name in DECOMPOSITION_ROWS:
            if name in d.decomposition_a and name in d.decomposition_b:
                per_run[(f"decomposition_{name}", *DEFAULT_VIEW)] = (
                    nanmean_quiet(d.decomposition_a[name], axis=1),
                    nanmean_quiet(d.decomposition_b[name], axis=1),
                )
    rows = []
    for (metric, space, split), (values_a, values_b) in per_run.items():
        # Only the runs where both variants recorded the quantity, so a, b and their difference share runs.
        paired = np.isfinite(values_a) & np.isfinite(values_b)
        values_a, values_b = np.where(paired, values_a, np.nan), np.where(paired, values_b, np.nan)
        difference, low, high = paired_difference(values_a, values_b, axis=0, confidence=confidence, clusters=d.shifts)
        rows.append(
            {
                "metric": metric,
                "space": space,
                "split": split,
                "a": float(nanmean_quiet(values_a)),
                "b": float(nanmean_quiet(values_b)),
                "difference": float(difference),
                "ci_low": float(low),
                "ci_high": float(high),
                "n_runs": int(paired.sum()),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
