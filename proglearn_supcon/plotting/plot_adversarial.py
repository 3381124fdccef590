"""Task 1's backward transfer in the adversarial sequences: figure, table and report.

Command line (a results folder of ``proglearn-supcon run --protocol label-shuffle``
or ``--protocol rotation``; the protocol is read from the files)::

    proglearn-supcon adversarial --results results/cifar100_rotation --out rotation.pdf [--png]

writes the figure ``rotation.pdf`` and the numbers behind it,
``rotation_summary.csv``, and prints the end points and how fast each curve
falls (its least-squares slope, with an interval). From Python::

    from proglearn_supcon.plotting.plot_adversarial import plot_adversarial
    fig, table = plot_adversarial("results/cifar100_rotation")

The left panel is each variant's BTE of task 1 (mean and shaded
``confidence`` interval) against the number of tasks seen (label shuffle) or
the angle of task 2 (rotation); the right panel, when both ``a`` and ``b``
have results, is the paired difference ``a - b``. The runs are paired by
(shift, slot) or (repetition, angle), and every interval is a Student-t
interval over the independent units of :mod:`proglearn_supcon.runs.bte_curves`:
shifts (their slots averaged first) or repetitions. The curves and the table
are :mod:`proglearn_supcon.plotting.adversarial_curves`'s, the printed report
:mod:`proglearn_supcon.plotting.adversarial_report`'s.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from proglearn_supcon.plotting.adversarial_curves import (
    UNITS,
    X_LABELS,
    AdversarialCurves,
    curve_lines,
    curve_table,
    load_curves,
)
from proglearn_supcon.plotting.adversarial_report import flagged_report, format_report, slope_report
from proglearn_supcon.plotting.arguments import add_output_arguments, run_figure_command
from proglearn_supcon.plotting.figures import (
    MINUS,
    add_reference_line,
    integer_ticks,
    new_figure,
    plot_band,
    save_figure_and_table,
    style_context,
    task_marker,
)
from proglearn_supcon.runs.analysis import PairingWarning
from proglearn_supcon.runs.errors import PROG

__all__ = ["build_parser", "main", "plot_adversarial", "plot_curves", "summarize"]


def _x_axis(ax, protocol: str, x: np.ndarray) -> None:
    if protocol == "label-shuffle":
        integer_ticks(ax, int(x.max()))
    else:
        ax.set_xticks(x if len(x) <= 7 else np.arange(0, x.max() + 1, 30))
        ax.set_xlim(x.min() - 5, x.max() + 5)
    ax.set_xlabel(X_LABELS[protocol])


def plot_curves(curves: AdversarialCurves, confidence: float = 0.95):
    """The figure of already loaded curves (see :func:`plot_adversarial`); returns the Figure."""
    lines = curve_lines(curves, confidence)
    unit, why = UNITS[curves.protocol]
    with style_context():
        fig = new_figure((7.0, 3.0) if curves.paired is not None else (3.8, 3.0))
        axes = np.atleast_1d(fig.subplots(1, 2 if curves.paired is not None else 1))
        for i, line in enumerate(lines[: len(curves.per_variant)]):
            plot_band(
                axes[0], line.x, line.mean, line.low, line.high, color=f"C{i}", label=line.name, marker=task_marker(i)
            )
        add_reference_line(axes[0], 1.0)
        axes[0].set(title="BTE of task 1", ylabel="BTE")
        axes[0].legend(loc="best")
        if curves.paired is not None:
            line, sign = lines[-1], f"{curves.a} {MINUS} {curves.b}"
            plot_band(axes[1], line.x, line.mean, line.low, line.high, color="C0", label=sign)
            add_reference_line(axes[1], 0.0)
            axes[1].set(title=f"{sign} (positive: {curves.a} better)", ylabel=f"\u0394 BTE ({sign})")
        x = np.unique(np.concatenate([c.x for c in curves.per_variant.values()]))
        for ax in axes:
            _x_axis(ax, curves.protocol, x)
        n = max(len(np.unique(c.clusters)) for c in curves.per_variant.values())
        band = f"shaded: {confidence:.0%} interval over {unit}\n({why})" if n > 1 else f"one {unit[:-1]}: no interval"
        fig.suptitle(f"{curves.protocol}; {band}")
        fig.draw_without_rendering()  # lay out (and create ticks) inside the style
    return fig


def plot_adversarial(
    results_dir: str | os.PathLike,
    variants=None,
    a: str | None = None,
    b: str | None = None,
    confidence: float = 0.95,
    *,
    allow_mixed_recipes: bool = False,
):
    """The BTE figure of an adversarial results folder and the table of its numbers; ``(Figure, DataFrame)``.

    Lines carry ``gid="data"`` (labels: the variant, or ``"a − b"``), bands
    ``gid="data-interval"``, the dashed references ``gid="reference"`` (1 on
    the BTE panel, 0 on the difference panel). Arguments and errors as
    :func:`load_curves`; the table is :func:`curve_table`.
    """
    curves = load_curves(results_dir, variants, a, b, allow_mixed_recipes=allow_mixed_recipes)
    return plot_curves(curves, confidence), curve_table(curves, confidence)


def summarize(
    results_dir: str | os.PathLike,
    variants,
    a: str = "supcon",
    b: str = "ce",
    confidence: float = 0.95,
    *,
    allow_mixed_recipes: bool = False,
):
    """Write ``<results_dir>/<protocol>_bte.png`` and its table; return the report (the run's closing lines).

    The difference is ``a - b`` when both are among ``variants``; ``allow_mixed_recipes`` as in :func:`load_curves`.
    """
    pair = (a, b) if a in variants and b in variants else (None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PairingWarning)  # pairing prints it to stderr already
        curves = load_curves(results_dir, variants, *pair, allow_mixed_recipes=allow_mixed_recipes)
    fig, table = plot_curves(curves, confidence), curve_table(curves, confidence)
    out = Path(results_dir) / f"{curves.protocol.replace('-', '_')}_bte.png"
    figure, csv_path = save_figure_and_table(fig, table, out)
    lines = [
        f"figure:  {figure}",
        f"table:   {csv_path}",
        format_report(table, confidence),
        *slope_report(curves, confidence),
        *flagged_report(curves),
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line


#: The ``proglearn-supcon`` subcommand of this module, named in its usage and error lines.
COMMAND = "adversarial"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {COMMAND}",
        description=(
            "Plot task 1's backward transfer in the label-shuffle or rotation sequence (read from the results "
            "files) for each variant, with intervals, and the paired difference of two variants; write the "
            "numbers behind the figure as a CSV and print the end points."
        ),
        epilog=(
            "The table is written beside --out as <stem>_summary.csv. Exit status: 0 on success, 2 on a usage "
            "error, a missing results directory, a variant without results, a corrupt results file, runs of "
            "another protocol or of mixed recipes, or no run common to --a and --b."
        ),
    )
    parser.add_argument(
        "--results", required=True, metavar="DIR", help="results folder of one --protocol label-shuffle or rotation"
    )
    parser.add_argument(
        "--variants", nargs="+", default=None, metavar="VARIANT", help="variants to draw (default: all with results)"
    )
    parser.add_argument("--a", default=None, metavar="VARIANT", help="variant A of the difference (default: supcon)")
    parser.add_argument(
        "--b", default=None, metavar="VARIANT", help="variant B, subtracted (default: ce; no difference without both)"
    )
    return add_output_arguments(parser)


def _make(args: argparse.Namespace):
    """The figure, table and report of the command line's options."""
    curves = load_curves(args.results, args.variants, args.a, args.b, allow_mixed_recipes=args.allow_mixed_recipes)
    table = curve_table(curves, args.confidence)
    report = "\n".join(
        [format_report(table, args.confidence), *slope_report(curves, args.confidence), *flagged_report(curves)]
    )
    return plot_curves(curves, args.confidence), table, report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (argparse exits 2 on bad arguments)."""
    return run_figure_command(COMMAND, build_parser(), argv, _make)


if __name__ == "__main__":
    sys.exit(main())
