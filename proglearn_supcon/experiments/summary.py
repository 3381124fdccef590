"""The short report that ends the task-sequence experiment.

After the runs, :func:`summarize` writes the comparison figure of two variants
(``<out>/<a>_vs_<b>.png``, see :mod:`proglearn_supcon.plotting.compare_variants`) and its table
(``<out>/<a>_vs_<b>_summary.csv``), and returns the text printed at the end of
the job: where the files are, each variant's mean final accuracy, FTE and TE,
and the differences ``a - b`` with their intervals.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from proglearn_supcon.metrics.intervals import mean_and_interval, n_clusters
from proglearn_supcon.runs.analysis import PairingWarning, format_mean_interval, run_metrics
from proglearn_supcon.runs.flags import flagged_lines
from proglearn_supcon.runs.results import load_runs

__all__ = ["build_parser", "main", "summarize", "variant_table"]

_NAMES = {"accuracy": "accuracy", "fte": "FTE", "bte": "BTE", "te": "TE"}


def _signed(value: float) -> str:
    """``value`` with its sign and 3 decimals; float noise around 0 (``-3.7e-17``) and -0.0 print as ``+0.000``."""
    # round() keeps the sign of a tiny negative (-0.0); adding 0.0 drops it.
    return f"{round(float(value), 3) + 0.0:+.3f}" if np.isfinite(value) else "n/a"


def summarize(
    results_dir: str | os.PathLike,
    variants,
    a: str = "supcon",
    b: str = "ce",
    confidence: float = 0.95,
    *,
    allow_mixed_recipes: bool = False,
) -> str:
    """Write the ``a - b`` figure and table under ``results_dir``; return the report text.

    Parameters
    ----------
    results_dir : path-like
        The experiment's ``--out`` folder.
    variants : sequence of str
        Variants to report on (those that have results there).
    a, b : str, default "supcon", "ce"
        The compared pair; without both in ``variants`` only the per-variant
        lines are reported and no figure is written.
    confidence : float, default 0.95
        Coverage of the intervals.
    allow_mixed_recipes : bool, default False
        Pool the runs of a variant made with different recipes (see
        :func:`~proglearn_supcon.runs.results.load_runs`).

    Returns
    -------
    str
        Several lines, no trailing newline.
    """
    # Imported here: the figure modules load matplotlib and seaborn, which the
    # table (variant_table) does not need.
    from proglearn_supcon.plotting.compare_variants import compare_variants
    from proglearn_supcon.plotting.figures import save_figure_and_table

    root = Path(results_dir)
    lines = [f"results: {root / '<variant>' / 'shift<s>_slot<k>.json'} ({', '.join(variants)})"]
    mixed = {"allow_mixed_recipes": allow_mixed_recipes}
    runs_by_variant = {variant: load_runs(root, variant, **mixed) for variant in variants}
    for variant, runs in runs_by_variant.items():
        metrics = run_metrics(runs)
        lines.append(
            f"  {variant:<7} final accuracy {np.mean(metrics.accuracy[:, -1, :]):.3f}   "
            f"mean FTE {np.mean(metrics.fte):.3f}   final TE {np.mean(metrics.te[:, -1, :]):.3f}   "
            f"({metrics.n_runs} run{'s' if metrics.n_runs != 1 else ''})"
        )
    lines += flagged_lines(runs_by_variant)
    if a not in variants or b not in variants:
        return "\n".join(lines)
    out = root / f"{a}_vs_{b}.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PairingWarning)  # pair_runs prints it to stderr already
        fig, table = compare_variants(root, a, b, confidence, **mixed)
    _, csv_path = save_figure_and_table(fig, table, out)
    n_runs, n_tasks, over = int(table["n_runs"][0]), int(table["n_tasks"][0]), table["interval_over"][0]
    n_shifts = int(table["n_shifts"][0])
    samples = (
        f"the {n_tasks} tasks of one shift ({n_runs} run{'s' if n_runs != 1 else ''}): "
        "the spread among its tasks, not run-to-run variance"
        if over == "tasks"
        else f"{n_shifts} shifts, the slots of a shift averaged ({n_runs} paired runs)"
    )
    lines += [
        f"figure:  {out}",
        f"table:   {csv_path}",
        f"{a} - {b} after the last task (positive: {a} better; {confidence:.0%} interval over {samples}; "
        f"{len(table)} comparisons, not corrected for multiplicity):",
    ]
    for row in table.itertuples():
        lines.append(
            f"  {_NAMES[row.metric]:<8} {_signed(row.mean_difference)}  "
            f"[{_signed(row.ci_low)}, {_signed(row.ci_high)}]  "
            f"{a} better on {row.n_tasks_a_better} of {row.n_tasks} tasks"
        )
    return "\n".join(lines)


def variant_table(
    results_dir: str | os.PathLike, variants, confidence: float = 0.95, *, allow_mixed_recipes: bool = False
) -> str:
    """A markdown table of each variant's means over its runs, with interval half-widths.

    Columns: mean single-task accuracy, final accuracy, FTE (mean over tasks),
    final BTE and TE (mean over tasks after the last one), training time per
    task and the epochs run per task, then the number of runs. Each run is
    first averaged over its tasks; ``±`` is the half-width of the Student-t
    interval over shifts, the runs (slots) of a shift averaged first since
    they share its test images (:mod:`proglearn_supcon.metrics.intervals`). Below the
    table: how many intervals it holds, and the flagged transformers
    (:func:`~proglearn_supcon.runs.flags.flagged_lines`). The runs of each variant must share one recipe
    unless ``allow_mixed_recipes`` (see :func:`~proglearn_supcon.runs.results.load_runs`).
    """
    shifts: np.ndarray = np.array([])

    def cell(per_run: np.ndarray) -> str:
        return format_mean_interval(*mean_and_interval(per_run, confidence=confidence, clusters=shifts))

    lines = [
        "| variant | single-task acc | final acc | FTE | final BTE | final TE | train s / task "
        "| epochs / task | runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    n_intervals, n_shifts, runs_by_variant = 0, set(), {}
    for variant in variants:
        runs = runs_by_variant[variant] = load_runs(results_dir, variant, allow_mixed_recipes=allow_mixed_recipes)
        m = run_metrics(runs)
        shifts = m.shifts
        n_shifts.add(n_clusters(shifts, m.n_runs))
        epochs = np.array([np.mean(r.tasks["n_epochs_run"]) for r in runs])  # NaN in older files
        train = np.array([np.nanmean(r.tasks["train_time_s"]) for r in runs])
        cells = [
            cell(m.single_task_accuracy.mean(1)),
            cell(m.accuracy[:, -1].mean(1)),
            cell(m.fte.mean(1)),
            cell(m.bte[:, -1].mean(1)),
            cell(m.te[:, -1].mean(1)),
            f"{np.mean(train):.1f}",
            f"{np.mean(epochs):.0f}" if np.isfinite(epochs).all() else "n/a",
        ]
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {m.n_runs} |")
        n_intervals += 5
    shifts_text = "/".join(str(n) for n in sorted(n_shifts))
    lines += [
        "",
        f"± : half-width of the {confidence:.0%} Student-t interval over {shifts_text} shifts (slots of a shift "
        f"averaged first: they share its test images); {n_intervals} intervals in this table, none corrected "
        "for multiple comparisons.",
        "",
        *flagged_lines(runs_by_variant),
    ]
    return "\n".join(lines)


def build_parser():
    """The options of ``proglearn-supcon summary``."""
    import argparse

    from proglearn_supcon.plotting.arguments import add_mixed_recipes_argument

    parser = argparse.ArgumentParser(
        prog="proglearn-supcon summary",
        description="Print a markdown table of each variant's means over its runs, with interval half-widths.",
    )
    parser.add_argument(
        "--results",
        required=True,
        metavar="DIR",
        help="results directory holding <variant>/shift<s>_slot<k>.json files",
    )
    parser.add_argument("--variants", nargs="+", required=True, metavar="VARIANT", help="variants, one row each")
    return add_mixed_recipes_argument(parser)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on missing or invalid results, with one error line)."""
    from proglearn_supcon.plotting.arguments import apply_decider
    from proglearn_supcon.runs.errors import command_error

    parser = build_parser()
    args = apply_decider(parser.parse_args(argv))
    try:
        print(variant_table(args.results, args.variants, allow_mixed_recipes=args.allow_mixed_recipes))
    except (FileNotFoundError, ValueError) as exc:
        return command_error("summary", exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
