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
shifts (their slots averaged first) or repetitions.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from proglearn_supcon.metrics.intervals import mean_and_interval, paired_difference
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
from proglearn_supcon.runs.analysis import PairingWarning, pair_loaded_runs
from proglearn_supcon.runs.bte_curves import SLOPE_UNITS, BTECurves, bte_curves, curve_slopes
from proglearn_supcon.runs.flags import flagged_lines
from proglearn_supcon.runs.results import RunResult, list_variants, load_runs

__all__ = [
    "TABLE_COLUMNS",
    "AdversarialCurves",
    "build_parser",
    "curve_table",
    "flagged_report",
    "format_report",
    "load_curves",
    "main",
    "plot_adversarial",
    "plot_curves",
    "slope_report",
    "summarize",
]

#: Columns of the table behind the figure, one row per (series, x).
TABLE_COLUMNS = ("protocol", "x_name", "x", "series", "mean", "ci_low", "ci_high", "n_runs", "n_clusters")
#: What the clusters of each protocol are, in the figure's and report's words.
_UNITS = {
    "label-shuffle": ("shifts", "the slots of a shift averaged first: they share its test images"),
    "rotation": ("repetitions", "the angles of a repetition share its data split and task 1's transformer"),
}
_X_LABELS = {"label-shuffle": "number of tasks seen", "rotation": "angle of task 2 (degrees)"}


@dataclass(frozen=True)
class AdversarialCurves:
    """The BTE curves behind one figure.

    Attributes
    ----------
    protocol : {"label-shuffle", "rotation"}
    runs : dict of str to list of RunResult
        Every run of each variant.
    per_variant : dict of str to BTECurves
        The curves of all runs of each variant.
    a, b : str or None
        The compared pair (None: no difference panel).
    paired : tuple of (BTECurves, BTECurves) or None
        The curves of the runs ``a`` and ``b`` have in common, row for row.
    """

    protocol: str
    runs: dict[str, list[RunResult]]
    per_variant: dict[str, BTECurves]
    a: str | None = None
    b: str | None = None
    paired: tuple[BTECurves, BTECurves] | None = None


def load_curves(
    results_dir: str | os.PathLike,
    variants=None,
    a: str | None = None,
    b: str | None = None,
    *,
    allow_mixed_recipes: bool = False,
) -> AdversarialCurves:
    """Every variant's BTE curves under ``results_dir`` and, for the pair ``(a, b)``, their paired curves.

    Parameters
    ----------
    results_dir : path-like
        A results folder of one adversarial protocol.
    variants : sequence of str, optional
        The variants to load; default every variant with results there.
    a, b : str, optional
        The difference ``a - b``; both None: ``supcon - ce`` when both have
        results, else no difference.
    allow_mixed_recipes : bool, default False
        Passed to :func:`~proglearn_supcon.runs.results.load_runs`.

    Raises
    ------
    FileNotFoundError
        If ``results_dir`` does not exist.
    ValueError
        On a folder without results, a variant without results, runs that are
        not of one adversarial protocol, only one of ``a`` and ``b``, an ``a``
        or ``b`` that is not among ``variants``, or the
        errors of :func:`~proglearn_supcon.runs.results.load_runs`,
        :func:`~proglearn_supcon.runs.analysis.pair_loaded_runs` and
        :func:`~proglearn_supcon.runs.bte_curves.bte_curves`.
    """
    if not Path(results_dir).is_dir():
        raise FileNotFoundError(f"results directory {str(results_dir)!r} does not exist")
    variants = list(variants or list_variants(results_dir))
    if not variants:
        raise ValueError(f"no results in {str(results_dir)!r}")
    mixed = {"allow_mixed_recipes": allow_mixed_recipes}
    runs = {v: load_runs(results_dir, v, **mixed) for v in variants}
    per_variant = {v: bte_curves(variant_runs) for v, variant_runs in runs.items()}
    protocols = sorted({curves.protocol for curves in per_variant.values()})
    if len(protocols) != 1:
        raise ValueError(f"the variants' runs are of different protocols {protocols}")
    if (a is None) != (b is None):
        raise ValueError("give both --a and --b, or neither (supcon - ce when both have results)")
    if a is None:
        a, b = ("supcon", "ce") if {"supcon", "ce"} <= set(per_variant) else (None, None)
    if a is None:
        return AdversarialCurves(protocols[0], runs, per_variant)
    if a == b:
        raise ValueError(f"--a and --b are both {a!r}; the difference needs two variants")
    if a not in runs or b not in runs:
        missing = a if a not in runs else b
        raise ValueError(f"--a {a} --b {b}: {missing!r} is not among the variants drawn ({', '.join(runs)})")
    runs_a, runs_b = pair_loaded_runs(runs[a], runs[b], a, b)
    return AdversarialCurves(protocols[0], runs, per_variant, a, b, (bte_curves(runs_a), bte_curves(runs_b)))


@dataclass(frozen=True)
class _Line:
    """One line of the figure and its rows of the table."""

    name: str
    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_runs: np.ndarray  # per x: the runs (pairs) with a value
    n_clusters: np.ndarray  # per x: the clusters among them


def _line(name: str, x: np.ndarray, values: np.ndarray, clusters: np.ndarray, interval) -> _Line:
    """The line of ``values`` (R, X) whose mean and interval ``interval`` gives."""
    finite = np.isfinite(values)
    n_clusters = np.array([len(np.unique(clusters[finite[:, i]])) for i in range(values.shape[1])])
    return _Line(name, x, *interval, finite.sum(axis=0), n_clusters)


def _lines(curves: AdversarialCurves, confidence: float) -> list[_Line]:
    """Every line of the figure: each variant's BTE, then the paired difference ``a - b`` if any."""
    lines = [
        _line(variant, c.x, c.bte, c.clusters, mean_and_interval(c.bte, confidence=confidence, clusters=c.clusters))
        for variant, c in curves.per_variant.items()
    ]
    if curves.paired is not None:
        ca, cb = curves.paired
        difference = paired_difference(ca.bte, cb.bte, confidence=confidence, clusters=ca.clusters)
        lines.append(_line(f"{curves.a} - {curves.b}", ca.x, ca.bte - cb.bte, ca.clusters, difference))
    return lines


def curve_table(curves: AdversarialCurves, confidence: float = 0.95) -> pd.DataFrame:
    """The numbers of the figure: one row per (series, x), columns :data:`TABLE_COLUMNS`.

    ``series`` is a variant (mean BTE over its runs) or ``"a - b"`` (mean
    paired difference); ``ci_low``, ``ci_high`` the Student-t ``confidence``
    interval over the clusters (NaN with fewer than two); ``n_runs`` the runs
    (pairs) with a value at ``x`` and ``n_clusters`` their shifts or repetitions.
    """
    x_name = next(iter(curves.per_variant.values())).x_name
    rows = [
        {
            "protocol": curves.protocol,
            "x_name": x_name,
            "x": int(line.x[i]),
            "series": line.name,
            "mean": float(line.mean[i]),
            "ci_low": float(line.low[i]),
            "ci_high": float(line.high[i]),
            "n_runs": int(line.n_runs[i]),
            "n_clusters": int(line.n_clusters[i]),
        }
        for line in _lines(curves, confidence)
        for i in range(len(line.x))
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _x_axis(ax, protocol: str, x: np.ndarray) -> None:
    if protocol == "label-shuffle":
        integer_ticks(ax, int(x.max()))
    else:
        ax.set_xticks(x if len(x) <= 7 else np.arange(0, x.max() + 1, 30))
        ax.set_xlim(x.min() - 5, x.max() + 5)
    ax.set_xlabel(_X_LABELS[protocol])


def plot_curves(curves: AdversarialCurves, confidence: float = 0.95):
    """The figure of already loaded curves (see :func:`plot_adversarial`); returns the Figure."""
    lines = _lines(curves, confidence)
    unit, why = _UNITS[curves.protocol]
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


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n != 1 else word.removesuffix('s')}"


def format_report(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """The end point of each series of ``table`` (:func:`curve_table`) and where a difference excludes 0.

    A difference series is one whose name holds ``" - "`` (``"a - b"``; variant names never do).
    """
    protocol = table["protocol"].iloc[0]
    unit, why = _UNITS[protocol]
    lines = [f"BTE of task 1 ({protocol}; {confidence:.0%} intervals over {unit}, {why}):"]
    for name, rows in table.groupby("series", sort=False):
        difference = " - " in name
        number = (lambda v: f"{v:+.3f}") if difference else (lambda v: f"{v:.3f}")
        last = rows.loc[rows["x"].idxmax()]
        where = f"after {last['x']} tasks" if protocol == "label-shuffle" else f"at {last['x']} degrees"
        interval = (
            f"[{number(last['ci_low'])}, {number(last['ci_high'])}]"
            if np.isfinite(last["ci_low"]) and np.isfinite(last["ci_high"])
            else "(no interval)"
        )
        lines.append(
            f"  {name:<12} {where}: {number(last['mean'])} {interval}  "
            f"({_plural(last['n_runs'], 'runs')}, {_plural(last['n_clusters'], unit)})"
        )
        if difference:
            apart = rows[(rows["ci_low"] > 0) | (rows["ci_high"] < 0)]["x"].tolist()
            lines.append(
                f"  {'':<12} interval excludes 0 at {_X_LABELS[protocol]}: {', '.join(map(str, apart)) or 'none'} "
                f"(of {len(rows)}; not corrected for multiplicity)"
            )
    return "\n".join(lines)


def _slope_line(name: str, slopes: np.ndarray, clusters: np.ndarray, interval, unit: str) -> str:
    finite = np.isfinite(slopes)
    mean, low, high = interval
    number = (lambda v: f"{v:+.3f}") if " - " in name else (lambda v: f"{v:.3f}")
    shown = f"[{number(low)}, {number(high)}]" if np.isfinite(low) and np.isfinite(high) else "(no interval)"
    n = len(np.unique(clusters[finite]))
    return f"  {name:<12} {number(mean)} {shown}  ({_plural(int(finite.sum()), 'curves')}, {_plural(n, unit)})"


def slope_report(curves: AdversarialCurves, confidence: float = 0.95) -> list[str]:
    """How fast each variant's BTE falls (:func:`~proglearn_supcon.runs.bte_curves.curve_slopes`), and ``a - b``.

    One slope per curve, then the mean and interval over the clusters, as
    for the points of the curve. The difference fits both variants of a pair
    on the same points (a point either lacks is left out of both), so a
    missing angle cannot pass for a difference in slope.
    """
    unit = _UNITS[curves.protocol][0]
    lines = [
        f"slope of BTE {SLOPE_UNITS[curves.protocol][1]} (least squares per curve; "
        f"{confidence:.0%} intervals over {unit}):"
    ]
    for variant, c in curves.per_variant.items():
        slopes = curve_slopes(c)
        interval = mean_and_interval(slopes, confidence=confidence, clusters=c.clusters)
        lines.append(_slope_line(variant, slopes, c.clusters, interval, unit))
    if curves.paired is not None:
        ca, cb = curves.paired
        common = np.isnan(ca.bte) | np.isnan(cb.bte)
        sa, sb = (curve_slopes(replace(c, bte=np.where(common, np.nan, c.bte))) for c in (ca, cb))
        interval = paired_difference(sa, sb, confidence=confidence, clusters=ca.clusters)
        lines.append(_slope_line(f"{curves.a} - {curves.b}", sa - sb, ca.clusters, interval, unit))
    return lines


def flagged_report(curves: AdversarialCurves) -> list[str]:
    """The transformers that look failed (:func:`~proglearn_supcon.runs.flags.flagged_lines`).

    Label shuffle: task 1's only, since the later transformers learn shuffled
    labels and look failed by design.
    """
    if curves.protocol == "label-shuffle":
        return [*flagged_lines(curves.runs, tasks=(0,)), "  (tasks 2.. learn shuffled labels; not listed)"]
    return flagged_lines(curves.runs)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proglearn-supcon adversarial",
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
    return run_figure_command(build_parser(), argv, _make)


if __name__ == "__main__":
    sys.exit(main())
