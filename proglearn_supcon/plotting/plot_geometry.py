"""Transfer matrices and embedding geometry of two variants, from runs made with ``--diagnostics``.

Command line (from the repository root)::

    python plotting/plot_geometry.py --results results --a supcon --b ce --out geometry.pdf [--png]
    python -m plotting.plot_geometry --results results --a supcon --b ce --out geometry.pdf

writes the figure ``geometry.pdf`` and the summary table
``geometry_summary.csv`` beside it, and prints the table.

From Python (a notebook)::

    from proglearn_supcon.plotting.plot_geometry import plot_geometry_comparison
    fig, summary = plot_geometry_comparison("results", "supcon", "ce")

Top row: the transfer matrix ``T[i, j]`` (accuracy on task ``j``'s test set
of transformer ``i``'s voter alone, see
:func:`proglearn_supcon.geometry.transfer_matrix`) of each variant, mean over
runs, on a shared colour scale, and their difference ``A - B``. Bottom row:
NC1, simplex deviation (``angle_deviation``) and effective rank against the
task index ``t``, for each variant: solid, transformer ``t``'s embedding of its
own task's test set (``[t, t]``); dashed, the mean over the other tasks' test
sets (``[t, j]``, ``j != t``). Runs are paired by ``(shift, slot)`` as in
:mod:`plotting.compare_variants`; bands are Student-t intervals of the mean
over runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proglearn_supcon.analysis import format_keys, nanmean_quiet, pair_runs, run_key
from proglearn_supcon.intervals import mean_and_interval, n_clusters, paired_difference
from proglearn_supcon.plotting.common import (
    MINUS,
    add_pair_arguments,
    integer_ticks,
    new_figure,
    plot_band,
    run_pair_figure,
    style_context,
)
from proglearn_supcon.results import RunResult

#: (metric, panel title) of the geometry panels, left to right.
GEOMETRY_PANELS = (
    ("nc1", "NC1 (lower: more collapsed)"),
    ("angle_deviation", "Simplex deviation of the angles"),
    ("effective_rank", "Effective rank"),
)
#: Columns of the summary table, in order.
SUMMARY_COLUMNS = ("metric", "a", "b", "difference", "ci_low", "ci_high", "n_runs")


@dataclass(frozen=True)
class PairedDiagnostics:
    """Diagnostics of the paired runs of two variants, stacked on a leading run axis.

    ``transfer_a[r, i, j]`` is run ``r``'s transfer matrix of variant ``a``;
    ``geometry_a[name][r, i, j]`` its metric of transformer ``i`` on task ``j``.
    All arrays have shape (R, T, T), float64.
    """

    a: str
    b: str
    keys: tuple[tuple[int, int], ...]
    transfer_a: np.ndarray
    transfer_b: np.ndarray
    geometry_a: dict[str, np.ndarray]
    geometry_b: dict[str, np.ndarray]

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


def _stack_diagnostics(runs: list[RunResult], variant: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Stacked transfer matrices (R, T, T) and geometry of ``runs``; ValueError naming what is missing."""
    without = [run_key(r) for r in runs if r.diagnostics is None]
    if without:
        raise ValueError(
            f"runs {format_keys(without)} (shift, slot) of variant {variant!r} have no diagnostics; "
            "rerun them with `python -m experiments.cifar_task_sequence ... --diagnostics`"
        )
    needed = {name for name, _ in GEOMETRY_PANELS}
    for run in runs:
        missing = needed - set(run.diagnostics.geometry)
        if missing:
            raise ValueError(
                f"run {format_keys([run_key(run)])} of variant {variant!r} lacks metrics {sorted(missing)}"
            )
    transfer = np.stack([r.diagnostics.transfer_matrix for r in runs])
    geometry = {name: np.stack([r.diagnostics.geometry[name] for r in runs]) for name in needed}
    return transfer, geometry


def load_diagnostics(
    results_dir: str | os.PathLike, a: str, b: str, *, allow_mixed_recipes: bool = False
) -> PairedDiagnostics:
    """The diagnostics of the runs of ``a`` and ``b`` paired by ``(shift, slot)``.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`proglearn_supcon.analysis.pair_runs` (which takes
        ``allow_mixed_recipes``); also ValueError if a paired run has no
        diagnostics (made without ``--diagnostics``).
    """
    runs_a, runs_b = pair_runs(results_dir, a, b, allow_mixed_recipes=allow_mixed_recipes)
    transfer_a, geometry_a = _stack_diagnostics(runs_a, a)
    transfer_b, geometry_b = _stack_diagnostics(runs_b, b)
    return PairedDiagnostics(a, b, tuple(run_key(r) for r in runs_a), transfer_a, transfer_b, geometry_a, geometry_b)


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


def summary_table(d: PairedDiagnostics, confidence: float = 0.95) -> pd.DataFrame:
    """Per-variant means over runs and their paired difference, one row per quantity.

    Each quantity is first reduced to one number per run, then averaged over
    runs (``a``, ``b``); ``difference`` is the mean over runs of ``a - b`` and
    ``ci_low``/``ci_high`` its Student-t ``confidence`` interval over shifts,
    the runs of a shift averaged first since they share its test images (NaN
    with one shift). Rows:

    * ``transfer_diagonal``: mean of ``T[t, t]`` (the single-task accuracy);
    * ``transfer_forward``: mean of ``T[i, j]`` over ``i < j``;
    * ``transfer_backward``: mean of ``T[i, j]`` over ``i > j``;
    * ``<metric>_own`` and ``<metric>_other`` for NC1, ``angle_deviation`` and
      ``effective_rank``: the mean over tasks of the solid and the dashed
      curve of the figure (:func:`own_and_other`).
    """
    per_run = {}
    triangles_a, triangles_b = triangle_means(d.transfer_a), triangle_means(d.transfer_b)
    for part in ("diagonal", "forward", "backward"):
        per_run[f"transfer_{part}"] = (triangles_a[part], triangles_b[part])
    for name, _ in GEOMETRY_PANELS:
        (own_a, other_a), (own_b, other_b) = own_and_other(d.geometry_a[name]), own_and_other(d.geometry_b[name])
        per_run[f"{name}_own"] = (nanmean_quiet(own_a, axis=1), nanmean_quiet(own_b, axis=1))
        per_run[f"{name}_other"] = (nanmean_quiet(other_a, axis=1), nanmean_quiet(other_b, axis=1))
    rows = []
    for metric, (values_a, values_b) in per_run.items():
        difference, low, high = paired_difference(values_a, values_b, axis=0, confidence=confidence, clusters=d.shifts)
        rows.append(
            {
                "metric": metric,
                "a": float(nanmean_quiet(values_a)),
                "b": float(nanmean_quiet(values_b)),
                "difference": float(difference),
                "ci_low": float(low),
                "ci_high": float(high),
                "n_runs": d.n_runs,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _heatmap(fig, ax, matrix: np.ndarray, *, gid: str, title: str, cmap: str, vmin: float, vmax: float):
    """``matrix`` (T, T) as an image tagged ``gid``, rows = transformers, columns = tasks, 1-based ticks."""
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    image.set_gid(gid)
    n = matrix.shape[0]
    ticks = np.arange(0, n, 1 if n <= 6 else 3)  # 1, 4, 7, 10 for ten tasks: readable at paper size
    ax.set_xticks(ticks, [str(t + 1) for t in ticks])
    ax.set_yticks(ticks, [str(t + 1) for t in ticks])
    ax.set(title=title, xlabel="task j (test set)", ylabel="transformer i")
    ax.grid(False)
    fig.colorbar(image, ax=ax, shrink=0.85, pad=0.03)
    return image


def plot_diagnostics(d: PairedDiagnostics, confidence: float = 0.95):
    """The figure of already paired diagnostics (see the module docstring)."""
    a, b, n_tasks = d.a, d.b, d.n_tasks
    mean_a, mean_b = nanmean_quiet(d.transfer_a, axis=0), nanmean_quiet(d.transfer_b, axis=0)
    with np.errstate(invalid="ignore"):
        difference = nanmean_quiet(d.transfer_a - d.transfer_b, axis=0)
    finite = np.concatenate([mean_a[np.isfinite(mean_a)], mean_b[np.isfinite(mean_b)]])
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    span = float(np.nanmax(np.abs(difference))) if np.isfinite(difference).any() else 0.0
    span = span if span > 0 else 1e-3  # a zero difference still needs a colour range
    x = np.arange(1, n_tasks + 1)
    n = d.n_runs
    runs = f"{n} paired run{'s' if n != 1 else ''} (shift, slot), mean"
    with style_context():
        # Two subfigures, so that the line panels do not inherit the heatmaps' colorbar widths.
        fig = new_figure((7.5, 6.0))
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.1])
        heat_axes = top.subplots(1, 3)
        _heatmap(top, heat_axes[0], mean_a, gid="transfer-a", title=a, cmap="viridis", vmin=low, vmax=high)
        _heatmap(top, heat_axes[1], mean_b, gid="transfer-b", title=b, cmap="viridis", vmin=low, vmax=high)
        _heatmap(
            top,
            heat_axes[2],
            difference,
            gid="transfer-difference",
            title=f"{a} {MINUS} {b}",
            cmap="RdBu_r",
            vmin=-span,
            vmax=span,
        )
        top.suptitle(f"Transfer matrix: accuracy on task j of transformer i's voter alone; {runs}")
        line_axes = bottom.subplots(1, 3)
        for ax, (name, title) in zip(line_axes, GEOMETRY_PANELS):
            for k, (variant, values) in enumerate(((a, d.geometry_a[name]), (b, d.geometry_b[name]))):
                for part, curve, style in zip(("own task", "other tasks"), own_and_other(values), ("-", "--")):
                    mean, lo, hi = mean_and_interval(curve, axis=0, confidence=confidence, clusters=d.shifts)
                    plot_band(
                        ax,
                        x,
                        mean,
                        lo,
                        hi,
                        color=f"C{k}",
                        label=f"{variant}, {part}",
                        linestyle=style,
                        marker="o" if style == "-" else "s",
                    )
            ax.set(title=title, xlabel="transformer t", ylabel=name.replace("_", " "))
            integer_ticks(ax, n_tasks)
        n_shifts = n_clusters(d.shifts, n)
        band = f"bands: {confidence:.0%} interval over {n_shifts} shifts" if n_shifts > 1 else "one shift: no interval"
        bottom.suptitle(f"Geometry of transformer t's embedding of its own and the other tasks' test sets; {band}")
        bottom.legend(*line_axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize="small")
        fig.draw_without_rendering()  # lay out inside the style
    return fig


def plot_geometry_comparison(
    results_dir: str | os.PathLike, a: str, b: str, confidence: float = 0.95, *, allow_mixed_recipes: bool = False
):
    """The figure and the summary table of ``a`` against ``b``; returns ``(Figure, DataFrame)``.

    Images (``ax.images``) carry ``gid`` ``"transfer-a"``, ``"transfer-b"`` and
    ``"transfer-difference"`` (the mean over runs of ``T_a``, ``T_b`` and
    ``T_a - T_b``); the curves (``gid="data"``) are labelled
    ``"<variant>, own task"`` and ``"<variant>, other tasks"``. Pairing,
    ``allow_mixed_recipes`` and errors are those of :func:`load_diagnostics`.
    """
    d = load_diagnostics(results_dir, a, b, allow_mixed_recipes=allow_mixed_recipes)
    return plot_diagnostics(d, confidence), summary_table(d, confidence)


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proglearn-supcon geometry",
        description=(
            "Plot the transfer matrices of two variants and their difference, and NC1, simplex "
            "deviation and effective rank of every transformer's embedding against the task index, "
            "from results files written with --diagnostics; print and save a summary table."
        ),
        epilog=(
            "The summary is written beside --out as <stem>_summary.csv. Exit status: 0 on success, "
            "2 on a usage error, a missing results directory, a variant without results or without "
            "diagnostics, a corrupt results file, runs of one variant with different recipes, different "
            "task counts or no common run."
        ),
    )
    return add_pair_arguments(parser)


def format_summary(summary: pd.DataFrame, a: str, b: str) -> str:
    """The summary table as printed text."""
    header = f"means over runs; difference = {a} - {b} (paired by shift and slot)"
    return header + "\n" + summary.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (argparse exits 2 on bad arguments)."""
    return run_pair_figure(build_parser(), argv, plot_geometry_comparison, format_summary)


if __name__ == "__main__":
    sys.exit(main())
