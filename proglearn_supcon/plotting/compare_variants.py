"""Differences between two variants (A - B) measured on the same runs.

Command line (from the repository root)::

    python plotting/compare_variants.py --results results --a supcon --b ce --out diff.pdf [--png]
    python -m plotting.compare_variants --results results --a supcon --b ce --out diff.pdf

writes the 2x2 difference figure ``diff.pdf`` and the summary table
``diff_summary.csv`` beside it, and prints the table.

From Python (a notebook)::

    from proglearn_supcon.plotting.compare_variants import compare_variants
    fig, summary = compare_variants("results", "supcon", "ce")

Runs are paired by ``(shift, slot)``: the difference is taken within each pair,
then averaged over pairs with a Student-t interval of the paired difference
in which the pairs of one shift are one cluster, since they share its test
images (:func:`proglearn_supcon.metrics.intervals.paired_difference` with
``clusters`` = shifts). For every metric shown
(FTE, BTE, TE, accuracy) higher is better, so a positive difference means A is
better.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proglearn_supcon.metrics.intervals import mean_and_interval, n_clusters, paired_difference
from proglearn_supcon.plotting.arguments import add_pair_arguments, run_pair_figure
from proglearn_supcon.plotting.figures import (
    MINUS,
    add_reference_line,
    integer_ticks,
    new_figure,
    plot_band,
    style_context,
)
from proglearn_supcon.runs.analysis import (  # noqa: F401  (PairingWarning, pair_runs: public here too)
    PairingWarning,
    RunMetrics,
    mean_over_seen,
    nanmean_quiet,
    pair_runs,
    run_metrics,
)
from proglearn_supcon.runs.errors import PROG

#: Metrics of the summary table, in row order.
SUMMARY_METRICS = ("accuracy", "fte", "bte", "te")
#: Columns of the summary table, in order.
SUMMARY_COLUMNS = (
    "metric",
    "mean_difference",
    "ci_low",
    "ci_high",
    "n_tasks_a_better",
    "n_tasks",
    "n_runs",
    "n_shifts",
    "interval_over",
)


@dataclass(frozen=True)
class PairedMetrics:
    """Metrics of the paired runs of two variants (run ``r`` of ``a`` pairs with run ``r`` of ``b``)."""

    a: str
    b: str
    metrics_a: RunMetrics
    metrics_b: RunMetrics

    @property
    def n_runs(self) -> int:
        return self.metrics_a.n_runs

    @property
    def n_tasks(self) -> int:
        return self.metrics_a.n_tasks

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-run curves (R, T) of each variant, as plotted: ``{metric: (a, b)}``.

        * ``fte``: ``fte[t]`` per task;
        * ``bte``, ``te``: at ``n_tasks_seen = j + 1``, the mean of ``bte[j, t]``
          (``te[j, t]``) over the tasks seen ``t = 0..j``;
        * ``accuracy``: the mean accuracy over the tasks seen after task ``j``.
        """
        ma, mb = self.metrics_a, self.metrics_b
        return {
            "fte": (ma.fte, mb.fte),
            "bte": (mean_over_seen(ma.bte), mean_over_seen(mb.bte)),
            "te": (mean_over_seen(ma.te), mean_over_seen(mb.te)),
            "accuracy": (ma.mean_accuracy, mb.mean_accuracy),
        }

    def finals(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-run, per-task values (R, T) of the summary table: ``{metric: (a, b)}``.

        ``accuracy``: ``acc[T-1, t]``; ``fte``: ``fte[t]``; ``bte``: ``bte[T-1, t]``;
        ``te``: ``te[T-1, t]`` (values after the last task).
        """
        ma, mb = self.metrics_a, self.metrics_b
        return {
            "accuracy": (ma.accuracy[:, -1, :], mb.accuracy[:, -1, :]),
            "fte": (ma.fte, mb.fte),
            "bte": (ma.bte[:, -1, :], mb.bte[:, -1, :]),
            "te": (ma.te[:, -1, :], mb.te[:, -1, :]),
        }


def load_paired(results_dir: str | os.PathLike, a: str, b: str, *, allow_mixed_recipes: bool = False) -> PairedMetrics:
    """:func:`pair_runs`, then the transfer metrics of each paired run."""
    runs_a, runs_b = pair_runs(results_dir, a, b, allow_mixed_recipes=allow_mixed_recipes)
    return PairedMetrics(a, b, run_metrics(runs_a), run_metrics(runs_b))


def summary_table(paired: PairedMetrics, confidence: float = 0.95) -> pd.DataFrame:
    """Summary of ``a - b`` after the last task, one row per metric.

    For each metric of :data:`SUMMARY_METRICS`, let ``D[r, t] = A[r, t] - B[r, t]``
    be the paired difference of run ``r`` on task ``t`` of the values of
    :meth:`PairedMetrics.finals` (final accuracy ``acc[T-1, t]``, ``fte[t]``,
    final ``bte[T-1, t]``, final ``te[T-1, t]``). Columns:

    * ``metric``: ``"accuracy"``, ``"fte"``, ``"bte"`` or ``"te"``;
    * ``mean_difference``: the mean over tasks of the per-task mean over runs,
      ``mean_t(mean_r D[r, t])`` (NaN-aware);
    * ``ci_low``, ``ci_high``: the Student-t ``confidence`` interval of the mean
      over shifts of the per-run task average ``d[r] = mean_t D[r, t]``,
      averaged first over the runs (slots) of each shift, which share its test
      images; with a single shift (no spread across shifts to estimate) the
      interval of the mean over tasks of ``mean_r D[r, t]`` instead, which
      reflects only task-to-task variation (NaN with a single task);
    * ``n_tasks_a_better``: the number of tasks ``t`` with ``mean_r D[r, t] > 0``
      (higher is better for every metric);
    * ``n_tasks``: the number of tasks compared, ``T``, except ``T - 1`` for
      BTE: the last task's final BTE is 1 for both variants by definition, so
      it cannot be better in either (its difference of 0 still enters
      ``mean_difference``, as in the variant table's final BTE);
      ``n_runs``: the number of paired runs;
      ``n_shifts``: the number of shifts among them (the interval's samples);
    * ``interval_over``: ``"shifts"`` or ``"tasks"`` (a single shift), what
      the interval's samples are.
    """
    rows = []
    finals = paired.finals()
    shifts = paired.metrics_a.shifts
    n_shifts = n_clusters(shifts, paired.n_runs)
    over = "shifts" if n_shifts > 1 else "tasks"
    for metric in SUMMARY_METRICS:
        values_a, values_b = finals[metric]
        per_task, _, _ = paired_difference(values_a, values_b, axis=0, confidence=confidence)
        with np.errstate(invalid="ignore"):
            per_run = nanmean_quiet(values_a - values_b, axis=1)
        if over == "shifts":
            _, low, high = mean_and_interval(per_run, axis=0, confidence=confidence, clusters=shifts)
        else:
            _, low, high = mean_and_interval(per_task, axis=0, confidence=confidence)
        rows.append(
            {
                "metric": metric,
                "mean_difference": float(nanmean_quiet(per_task)),
                "ci_low": float(low),
                "ci_high": float(high),
                "n_tasks_a_better": int(np.sum(per_task > 0)),
                "n_tasks": paired.n_tasks - 1 if metric == "bte" else paired.n_tasks,
                "n_runs": paired.n_runs,
                "n_shifts": n_shifts,
                "interval_over": over,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


#: (metric, panel title, x label) of the four panels, row by row.
PANELS = (
    ("fte", "FTE per task", "task"),
    ("bte", "BTE, mean over tasks seen", "number of tasks seen"),
    ("te", "TE, mean over tasks seen", "number of tasks seen"),
    ("accuracy", "Accuracy, mean over tasks seen", "number of tasks seen"),
)


def plot_differences(paired: PairedMetrics, confidence: float = 0.95):
    """The 2x2 difference figure of already paired metrics (see :func:`compare_variants`)."""
    a, b, n_tasks = paired.a, paired.b, paired.n_tasks
    sign = f"{a} {MINUS} {b}"
    curves = paired.curves()
    x = np.arange(1, n_tasks + 1)
    with style_context():
        fig = new_figure((7.0, 5.0))
        axes = fig.subplots(2, 2).ravel()
        for ax, (metric, title, xlabel) in zip(axes, PANELS):
            values_a, values_b = curves[metric]
            mean, low, high = paired_difference(
                values_a, values_b, axis=0, confidence=confidence, clusters=paired.metrics_a.shifts
            )
            plot_band(ax, x, mean, low, high, color="C0", label=sign)
            add_reference_line(ax, 0.0)
            ylabel = "accuracy" if metric == "accuracy" else metric.upper()
            ax.set(title=title, xlabel=xlabel, ylabel=f"\u0394 {ylabel} ({sign})")
            integer_ticks(ax, n_tasks)
        n, n_shifts = paired.n_runs, n_clusters(paired.metrics_a.shifts, paired.n_runs)
        band = (
            f"shaded: {confidence:.0%} interval of the paired difference over {n_shifts} shifts"
            if n_shifts > 1
            else "one shift: no interval over runs"
        )
        fig.suptitle(f"{sign} (positive: {a} better)\n{n} paired run{'s' if n != 1 else ''} (shift, slot); {band}")
        fig.draw_without_rendering()  # lay out (and create ticks) inside the style
    return fig


def compare_variants(
    results_dir: str | os.PathLike, a: str, b: str, confidence: float = 0.95, *, allow_mixed_recipes: bool = False
):
    """The difference figure ``a - b`` and its summary table; returns ``(Figure, DataFrame)``.

    Panels (one line each, ``gid="data"``, label ``"a − b"``; shaded
    ``confidence`` interval of the paired difference over shifts; dashed reference
    line at 0, ``gid="reference"``):

    * FTE difference per task (``x`` = task, 1-based);
    * BTE and TE: at ``x`` = number of tasks seen ``j + 1``, the difference of the
      mean over the tasks seen ``t = 0..j`` of ``bte[j, t]`` (``te[j, t]``);
    * accuracy: the difference of the mean accuracy over the tasks seen.

    The table is :func:`summary_table`. Pairing, ``allow_mixed_recipes`` and
    errors are those of :func:`pair_runs`.
    """
    paired = load_paired(results_dir, a, b, allow_mixed_recipes=allow_mixed_recipes)
    return plot_differences(paired, confidence), summary_table(paired, confidence)


# ----------------------------------------------------------------------------- command line


#: The ``proglearn-supcon`` subcommand of this module, named in its usage and error lines.
COMMAND = "compare"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {COMMAND}",
        description=(
            "Plot the differences A - B of FTE, BTE, TE and accuracy between two variants, "
            "paired by (shift, slot), with intervals of the paired difference, and print and save "
            "a summary table (mean difference after the last task, its interval, and on how many "
            "tasks A is better)."
        ),
        epilog=(
            "The summary is written beside --out as <stem>_summary.csv. Runs whose (shift, slot) "
            "exists for only one variant are left out, with a warning. Exit status: 0 on success, "
            "2 on a usage error, a missing results directory, a variant without results, a corrupt "
            "results file, runs of one variant with different recipes, different task counts or no common run."
        ),
    )
    return add_pair_arguments(parser)


def format_summary(summary: pd.DataFrame, a: str, b: str) -> str:
    """The summary table as printed text."""
    header = f"{a} - {b} after the last task (positive: {a} better)"
    return header + "\n" + summary.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (argparse exits 2 on bad arguments)."""
    return run_pair_figure(COMMAND, build_parser(), argv, compare_variants, format_summary)


if __name__ == "__main__":
    sys.exit(main())
