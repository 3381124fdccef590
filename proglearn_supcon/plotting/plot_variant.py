"""The standard lifelong-learning figure of one variant, and its timing figure.

Command line (from the repository root)::

    python plotting/plot_variant.py --results results --variant supcon --out fig.pdf [--png]
    python -m plotting.plot_variant --results results --variant supcon --out fig.pdf

writes ``fig.pdf`` (FTE, BTE, TE and accuracy) and ``fig_timing.pdf`` (train
and inference times per task) beside it; ``--png`` also writes PNG copies.

From Python (a notebook)::

    from proglearn_supcon.plotting.plot_variant import plot_variant, plot_timing
    fig = plot_variant("results", "supcon")

Lines are the mean over runs (one results file each: a shift and a slot) and
the shaded bands the Student-t 95% interval of that mean with the runs of a
shift as one cluster, since they share its test images
(:func:`proglearn_supcon.metrics.intervals.mean_and_interval` with
``clusters`` = shifts; no band with fewer than two shifts).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from proglearn_supcon.metrics.intervals import mean_and_interval
from proglearn_supcon.plotting.arguments import add_mixed_recipes_argument, apply_decider, confidence_arg
from proglearn_supcon.plotting.figures import (
    add_reference_line,
    check_out_path,
    integer_ticks,
    new_figure,
    plot_band,
    save_figure,
    sibling,
    style_context,
    task_colors,
    task_label,
    task_marker,
    write_error,
)
from proglearn_supcon.runs.analysis import RunMetrics, check_task_counts, run_metrics
from proglearn_supcon.runs.errors import PROG, command_error
from proglearn_supcon.runs.results import load_runs

#: (field of ``RunResult.tasks``, panel title) of the timing figure.
TIMING_PANELS = (
    ("train_time_s", "train time"),
    ("single_task_inference_time_s", "single-task inference time"),
    ("multitask_inference_time_s", "multitask inference time"),
)


def _runs_text(keys, confidence: float) -> str:
    shifts = sorted({shift for shift, _ in keys})
    n = len(keys)
    band = f"shaded: {confidence:.0%} interval over shifts" if len(shifts) > 1 else "one shift: no interval over runs"
    return f"{n} run{'s' if n != 1 else ''} (shifts {', '.join(map(str, shifts))}); {band}"


def load_metrics(results_dir: str | os.PathLike, variant: str, *, allow_mixed_recipes: bool = False) -> RunMetrics:
    """Transfer metrics of every run of ``variant`` under ``results_dir``.

    Raises ``FileNotFoundError`` for a missing directory and ``ValueError`` for
    a variant without results, a corrupt file, runs of different recipes
    (unless ``allow_mixed_recipes``, see :func:`~proglearn_supcon.runs.results.load_runs`)
    or runs of different task counts.
    """
    runs = load_runs(results_dir, variant, allow_mixed_recipes=allow_mixed_recipes)
    check_task_counts(runs, variant)
    return run_metrics(runs)


def plot_variant_metrics(metrics: RunMetrics, variant: str, confidence: float = 0.95):
    """The 2x2 figure of already computed metrics (see :func:`plot_variant`)."""
    n_tasks, shifts = metrics.n_tasks, metrics.shifts
    colors = task_colors(n_tasks)
    with style_context():
        fig = new_figure((7.0, 5.0))
        (ax_fte, ax_bte), (ax_te, ax_acc) = fig.subplots(2, 2)

        # FTE: one value per task.
        tasks = np.arange(1, n_tasks + 1)
        mean, low, high = mean_and_interval(metrics.fte, axis=0, confidence=confidence, clusters=shifts)
        plot_band(ax_fte, tasks, mean, low, high, color="0.15", label="FTE")
        add_reference_line(ax_fte, 1.0)
        ax_fte.set(title="Forward transfer efficiency", xlabel="task", ylabel="FTE")
        integer_ticks(ax_fte, n_tasks)

        # BTE, TE, accuracy: task t (0-based) is seen from n_tasks_seen = t + 1 to T.
        panels = (
            (ax_bte, metrics.bte, "Backward transfer efficiency", "BTE"),
            (ax_te, metrics.te, "Transfer efficiency", "TE"),
            (ax_acc, metrics.accuracy, "Accuracy", "accuracy"),
        )
        for ax, values, title, ylabel in panels:
            for t in range(n_tasks):
                mean, low, high = mean_and_interval(values[:, t:, t], axis=0, confidence=confidence, clusters=shifts)
                plot_band(
                    ax,
                    np.arange(t + 1, n_tasks + 1),
                    mean,
                    low,
                    high,
                    color=colors[t],
                    label=task_label(t),
                    marker=task_marker(t),
                    alpha=0.12,
                )
            if ax is not ax_acc:
                add_reference_line(ax, 1.0)
            ax.set(title=title, xlabel="number of tasks seen", ylabel=ylabel)
            integer_ticks(ax, n_tasks)

        mean, low, high = mean_and_interval(metrics.mean_accuracy, axis=0, confidence=confidence, clusters=shifts)
        plot_band(
            ax_acc,
            tasks,
            mean,
            low,
            high,
            color="black",
            label="mean of tasks seen",
            gid="mean",
            marker=None,
            linewidth=2.6,
            alpha=0.12,
        )

        handles, labels = ax_acc.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right center")
        fig.suptitle(
            f"{variant}: {_runs_text(metrics.keys, confidence)}\n"
            "efficiency > 1 (dashed line): learning the other tasks helped"
        )
        fig.draw_without_rendering()  # lay out (and create ticks) inside the style
    return fig


def plot_variant(
    results_dir: str | os.PathLike, variant: str, confidence: float = 0.95, *, allow_mixed_recipes: bool = False
):
    """The standard lifelong-learning figure of ``variant``; returns the matplotlib Figure.

    Panels (lines are means over runs, bands ``confidence`` intervals across runs):

    * top left, FTE per task: ``x`` = task (1-based), ``y`` = ``fte[t]``;
    * top right, BTE: one line per task ``t``, ``x`` = number of tasks seen
      ``t + 1 .. T``, ``y`` = ``bte[x - 1, t]``;
    * bottom left, TE: as BTE with ``te``;
    * bottom right, accuracy: one line per task as BTE with the accuracy, plus a
      thick line (``gid="mean"``) of the mean accuracy over the tasks seen.

    The efficiency panels have a dashed reference line at 1 (``gid="reference"``);
    data lines have ``gid="data"`` and labels ``"FTE"`` / ``"task <t+1>"``.
    """
    metrics = load_metrics(results_dir, variant, allow_mixed_recipes=allow_mixed_recipes)
    return plot_variant_metrics(metrics, variant, confidence)


def plot_timing(
    results_dir: str | os.PathLike, variant: str, confidence: float = 0.95, *, allow_mixed_recipes: bool = False
):
    """Train time, single-task and multitask inference time per task; returns the Figure.

    One panel per field of :data:`TIMING_PANELS` (seconds, ``x`` = task, 1-based);
    lines (``gid="data"``) are means over runs, bands ``confidence`` intervals.
    Errors and ``allow_mixed_recipes`` as :func:`load_metrics`.
    """
    runs = load_runs(results_dir, variant, allow_mixed_recipes=allow_mixed_recipes)
    n_tasks = check_task_counts(runs, variant)
    keys = [(r.shift, r.slot) for r in runs]
    shifts = [shift for shift, _ in keys]
    tasks = np.arange(1, n_tasks + 1)
    with style_context():
        fig = new_figure((7.0, 2.6))
        axes = fig.subplots(1, len(TIMING_PANELS))
        for i, (ax, (name, title)) in enumerate(zip(axes, TIMING_PANELS)):
            values = np.stack([r.tasks[name] for r in runs])
            mean, low, high = mean_and_interval(values, axis=0, confidence=confidence, clusters=shifts)
            plot_band(ax, tasks, mean, low, high, color=f"C{i}", label=title)
            ax.set(title=title, xlabel="task", ylabel="seconds")
            ax.set_ylim(bottom=0)
            integer_ticks(ax, n_tasks)
        fig.suptitle(f"{variant}: time per task; {_runs_text(keys, confidence)}")
        fig.draw_without_rendering()
    return fig


# ----------------------------------------------------------------------------- command line


#: The ``proglearn-supcon`` subcommand of this module, named in its usage and error lines.
COMMAND = "plot"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {COMMAND}",
        description=(
            "Plot the lifelong-learning figure of one variant (FTE per task; BTE, TE and accuracy "
            "over the number of tasks seen; mean over runs with shaded intervals across runs) "
            "and its timing figure (train, single-task and multitask inference time per task)."
        ),
        epilog=(
            "The timing figure is written beside --out as <stem>_timing<suffix>. "
            "Exit status: 0 on success, 2 on a usage error, a missing results directory, a "
            "variant without results, a corrupt results file or runs with different recipes."
        ),
    )
    parser.add_argument(
        "--results",
        required=True,
        metavar="DIR",
        help="results directory holding <variant>/shift<k>_slot<s>.json files",
    )
    parser.add_argument("--variant", required=True, help="variant to plot, e.g. supcon")
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="figure file; the format follows the suffix (.pdf, .png or .svg)"
    )
    parser.add_argument("--png", action="store_true", help="also write a PNG copy of each figure beside it")
    parser.add_argument(
        "--confidence",
        type=confidence_arg,
        default=0.95,
        help="confidence level of the shaded intervals (default: 0.95)",
    )
    return add_mixed_recipes_argument(parser)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (argparse exits 2 on bad arguments)."""
    parser = build_parser()
    args = apply_decider(parser.parse_args(argv))
    try:
        out = check_out_path(args.out)
        mixed = {"allow_mixed_recipes": args.allow_mixed_recipes}
        figure = plot_variant(args.results, args.variant, args.confidence, **mixed)
        timing = plot_timing(args.results, args.variant, args.confidence, **mixed)
    except (FileNotFoundError, ValueError) as exc:
        return command_error(COMMAND, exc)
    try:
        written = save_figure(figure, out, png=args.png)
        written += save_figure(timing, sibling(out, "_timing"), png=args.png)
    except OSError as exc:
        return command_error(COMMAND, write_error(exc, out))
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
