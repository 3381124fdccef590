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
:func:`proglearn_supcon.metrics.geometry.transfer_matrix`) of each variant, mean over
runs, on a shared colour scale, and their difference ``A - B``; beside them,
for runs that recorded it, the decomposition of the network's accuracy after
the last task (:mod:`proglearn_supcon.metrics.decomposition`: own voter, other-voter
term, good and bad diversity), mean over tasks and runs.

Below, one column per *view* (space and split, see
:mod:`proglearn_supcon.experiments.diagnostics`: the encoder output and the
projection-head output, on the test and on the training data) and one row
per measure, side by side so that no one measure stands for the others:
the collapse measures (NC1, the variance ratio ``tr(S_W) / tr(S_B)``, the
within-class alignment), the simplex measures (angle deviation, spread of the
class-mean norms) and the effective rank, with its ceiling ``min(n - 1, d)``
written in the panel. Each panel plots the measure against the task index
``t``, for each variant: solid, transformer ``t``'s embedding of its own task
(``[t, t]``); dashed, the mean over the other tasks (``[t, j]``, ``j != t``).
Files written before the other views were recorded show the encoder's test
view only. Runs are paired by ``(shift, slot)`` as in
:mod:`plotting.compare_variants`; bands are Student-t intervals of the mean
over shifts (the runs of a shift averaged first). The pairing and the
summary table are :mod:`proglearn_supcon.plotting.paired_diagnostics`'s.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

from proglearn_supcon.metrics.intervals import mean_and_interval, n_clusters
from proglearn_supcon.plotting.arguments import add_pair_arguments, run_pair_figure
from proglearn_supcon.plotting.figures import (
    MINUS,
    add_reference_line,
    integer_ticks,
    new_figure,
    plot_band,
    style_context,
)
from proglearn_supcon.plotting.paired_diagnostics import PairedDiagnostics, View, load_diagnostics, summary_table
from proglearn_supcon.runs.analysis import nanmean_quiet, own_and_other
from proglearn_supcon.runs.errors import PROG

#: (metric, panel title, y label) of the geometry panels, top to bottom: collapse, simplex, rank.
GEOMETRY_PANELS = (
    ("nc1", "NC1", "lower: more collapsed"),
    ("variance_ratio", "tr(S_W) / tr(S_B)", "lower: more collapsed"),
    ("alignment", "Within-class alignment", "lower: tighter classes"),
    ("angle_deviation", "Simplex: angle deviation", "0: regular simplex"),
    ("norm_spread", "Simplex: norm spread", "0: equal norms"),
    ("effective_rank", "Effective rank", "dimensions"),
)
#: (field, bar label) of the decomposition panel; the bad diversity is drawn negative (it is subtracted).
DECOMPOSITION_BARS = (
    ("own_accuracy", "own voter"),
    ("other_term", "other voters"),
    ("good_diversity", "good div."),
    ("bad_diversity", f"{MINUS}bad div."),
    ("network_accuracy", "network"),
)


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


#: How a view is named in the figure.
_VIEW_NAMES = {
    "encoder": "encoder output",
    "projection": "projection output",
    "test": "test data",
    "train": "training data",
}


def view_label(view: View) -> str:
    """``("encoder", "test")`` -> ``"encoder output, test data"``."""
    space, split = view
    return f"{_VIEW_NAMES.get(space, space)}, {_VIEW_NAMES.get(split, split)}"


def _decomposition_panel(ax, d: PairedDiagnostics, confidence: float) -> None:
    """Bars of the mean decomposition parts per variant (``gid`` ``decomposition-a`` / ``-b``), with intervals."""
    x = np.arange(len(DECOMPOSITION_BARS))
    width = 0.38
    for k, (side, variant, parts) in enumerate((("a", d.a, d.decomposition_a), ("b", d.b, d.decomposition_b))):
        means, errors = [], []
        for name, _ in DECOMPOSITION_BARS:
            sign = -1.0 if name == "bad_diversity" else 1.0  # drawn as what it adds: it is subtracted
            mean, low, high = mean_and_interval(
                sign * nanmean_quiet(parts[name], axis=1), confidence=confidence, clusters=d.shifts
            )
            means.append(mean)
            errors.append((mean - low, high - mean) if np.isfinite(low) else (0.0, 0.0))
        bars = ax.bar(
            x + (k - 0.5) * width, means, width, yerr=np.array(errors).T, capsize=2, color=f"C{k}", label=variant
        )
        for patch in bars.patches:
            patch.set_gid(f"decomposition-{side}")
    add_reference_line(ax, 0.0)
    ax.set_xticks(x, [label for _, label in DECOMPOSITION_BARS], rotation=30, ha="right")
    ax.set(title="Network accuracy after the last task", ylabel=f"own + other + good {MINUS} bad")
    ax.legend(fontsize="small")


def _recorded_runs(d: PairedDiagnostics, view: View, name: str) -> int:
    """How many paired runs recorded ``name`` in ``view`` for both variants."""
    a, b = d.views_a[view][name], d.views_b[view][name]
    return int(np.sum(np.isfinite(a).any(axis=(1, 2)) & np.isfinite(b).any(axis=(1, 2))))


def _geometry_panel(ax, d: PairedDiagnostics, view: View, name: str, title: str, confidence: float) -> None:
    """One measure of one view against the task index: own and other tasks, both variants."""
    x = np.arange(1, d.n_tasks + 1)
    for k, (variant, views) in enumerate(((d.a, d.views_a), (d.b, d.views_b))):
        for part, curve, style in zip(("own task", "other tasks"), own_and_other(views[view][name]), ("-", "--")):
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
    if name == "effective_rank" and "effective_rank_ceiling" in d.views_a[view]:
        # The ceiling differs between the spaces of the two losses (e.g. CE's logits have n_classes dimensions).
        ceilings = {
            v: np.nanmax(views[view]["effective_rank_ceiling"]) for v, views in ((d.a, d.views_a), (d.b, d.views_b))
        }
        values = set(ceilings.values())
        shown = f"{values.pop():g}" if len(values) == 1 else ", ".join(f"{v} {c:g}" for v, c in ceilings.items())
        text = ax.text(
            0.98,
            0.04,
            f"at most min(n{MINUS}1, d) = {shown}",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="x-small",
        )
        text.set_gid("ceiling")
    recorded = _recorded_runs(d, view, name)
    runs = "" if recorded == d.n_runs else f"\n{recorded} of {d.n_runs} runs"  # a line of its own: columns are narrow
    if name == "nc1":
        ax.set_yscale("log")  # positive, and in a space with few dimensions other tasks' NC1 spans decades
    ax.set(title=f"{title}\n{view_label(view)}{runs}", xlabel="transformer t")
    integer_ticks(ax, d.n_tasks)


def plot_diagnostics(d: PairedDiagnostics, confidence: float = 0.95):
    """The figure of already paired diagnostics (see the module docstring).

    Each geometry panel has ``gid`` ``"geometry:<space>:<split>:<metric>"``.
    """
    a, b = d.a, d.b
    mean_a, mean_b = nanmean_quiet(d.transfer_a, axis=0), nanmean_quiet(d.transfer_b, axis=0)
    with np.errstate(invalid="ignore"):
        difference = nanmean_quiet(d.transfer_a - d.transfer_b, axis=0)
    finite = np.concatenate([mean_a[np.isfinite(mean_a)], mean_b[np.isfinite(mean_b)]])
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    span = float(np.nanmax(np.abs(difference))) if np.isfinite(difference).any() else 0.0
    span = span if span > 0 else 1e-3  # a zero difference still needs a colour range
    n = d.n_runs
    runs = f"{n} paired run{'s' if n != 1 else ''} (shift, slot), mean"
    views = d.views
    panels = [panel for panel in GEOMETRY_PANELS if any(panel[0] in d.views_a[v] for v in views)]
    n_top = 4 if d.decomposition_a is not None else 3
    width = max(7.5, 2.5 * max(len(views), n_top))
    with style_context():
        # Two subfigures, so that the line panels do not inherit the heatmaps' colorbar widths.
        fig = new_figure((width, 2.8 + 1.9 * len(panels)))
        top, bottom = fig.subfigures(2, 1, height_ratios=[2.8, 1.9 * len(panels)])
        heat_axes = top.subplots(1, n_top)
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
        if d.decomposition_a is not None:
            _decomposition_panel(heat_axes[3], d, confidence)
        top.suptitle(f"Transfer matrix: accuracy on task j of transformer i's voter alone; {runs}")
        line_axes = bottom.subplots(len(panels), len(views), squeeze=False)
        for row, (name, title, ylabel) in zip(line_axes, panels):
            for ax, view in zip(row, views):
                ax.set_gid(f"geometry:{view[0]}:{view[1]}:{name}")
                if name in d.views_a[view]:
                    _geometry_panel(ax, d, view, name, title, confidence)
                    ax.set_ylabel(ylabel)
                else:
                    ax.set_axis_off()
                    ax.set_title(f"{title}\n{view_label(view)}: not recorded")
        n_shifts = n_clusters(d.shifts, n)
        band = f"bands: {confidence:.0%} interval over {n_shifts} shifts" if n_shifts > 1 else "one shift: no interval"
        if any(_recorded_runs(d, v, p[0]) < n for v in views for p in panels if p[0] in d.views_a[v]):
            band = f"bands: {confidence:.0%} interval over the shifts of the runs that recorded the view"
        bottom.suptitle(f"Geometry of transformer t's embedding of its own and the other tasks, per view; {band}")
        bottom.legend(
            *line_axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize="small"
        )
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


#: The ``proglearn-supcon`` subcommand of this module, named in its usage and error lines.
COMMAND = "geometry"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {COMMAND}",
        description=(
            "Plot the transfer matrices of two variants and their difference, the decomposition of the "
            "network's accuracy, and the collapse measures (NC1, variance ratio, within-class alignment), "
            "simplex measures (angle deviation, norm spread) and effective rank of every transformer's "
            "embedding against the task index, in every recorded space and split, from results files "
            "written with --diagnostics; print and save a summary table with space and split columns."
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
    return run_pair_figure(COMMAND, build_parser(), argv, plot_geometry_comparison, format_summary)


if __name__ == "__main__":
    sys.exit(main())
