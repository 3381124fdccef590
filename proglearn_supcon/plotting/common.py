"""Shared helpers of the figure scripts: style, per-run metrics, drawing, saving.

Every figure is drawn inside :func:`style_context` (seaborn ``whitegrid`` at
``paper`` size with the colour-blind-safe ``colorblind`` palette) with
constrained layout, so labels do not overlap at paper size.

Lines that carry data are tagged so that a reader of the figure (a test, a
notebook) can tell them from decorations without relying on order:

* ``gid="data"``: one curve of a metric (per task, or a difference);
* ``gid="mean"``: the mean over the tasks seen (accuracy panel of
  :func:`plotting.plot_variant.plot_variant`);
* ``gid="reference"``: a dashed horizontal reference line (``y = 1`` on the
  efficiency panels of one variant, ``y = 0`` on the difference panels).
"""

from __future__ import annotations

import argparse

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from proglearn_supcon.results import RunResult, stack_runs
from proglearn_supcon.transfer import transfer_metrics

#: Formats accepted for ``--out`` (from its suffix).
FORMATS = (".pdf", ".png", ".svg")
#: Resolution of raster (PNG) output.
PNG_DPI = 300
#: Width of a full-width (two-column) paper figure, inches.
PAPER_WIDTH = 7.0
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
REFERENCE_STYLE = dict(color="0.35", linestyle="--", linewidth=1.0, zorder=1)
MINUS = "\u2212"  # the minus sign drawn in titles and labels


@contextlib.contextmanager
def style_context(font_scale: float = 1.0) -> Iterator[None]:
    """Seaborn ``whitegrid`` / ``paper`` style with the ``colorblind`` palette, restored on exit."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rc = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=font_scale))
    rc.update({"legend.frameon": False, "axes.titleweight": "bold", "savefig.bbox": "tight"})
    with plt.rc_context(rc), sns.color_palette("colorblind"):
        yield


def task_colors(n_tasks: int) -> list[tuple[float, float, float]]:
    """One colour-blind-safe colour per task (the ``colorblind`` palette has 10; it cycles beyond)."""
    import seaborn as sns

    return list(sns.color_palette("colorblind", n_tasks))


def task_marker(task: int) -> str:
    """A marker per task, so that tasks differ by shape as well as by colour."""
    return MARKERS[task % len(MARKERS)]


def task_label(task: int) -> str:
    """Label of a 0-based task index (tasks are shown 1-based)."""
    return f"task {task + 1}"


# ----------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class RunMetrics:
    """Transfer metrics of several runs of one variant, stacked on a leading run axis.

    ``R`` runs of ``T`` tasks; indexing as in :func:`proglearn_supcon.transfer.transfer_metrics`
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


# ----------------------------------------------------------------------------- drawing


def plot_band(ax, x, mean, low, high, *, color, label: str, gid: str = "data", marker: str | None = "o",
              linewidth: float = 1.4, alpha: float = 0.2, **kwargs):
    """Draw ``mean`` over ``x`` as a line tagged ``gid``/``label`` with a shaded ``[low, high]`` band.

    Points where ``mean`` is NaN are dropped from the line (so its data are
    exactly the finite values); the band is drawn where both limits are finite.
    """
    from matplotlib.colors import to_rgba

    color = to_rgba(color)  # resolve "C<n>" now, inside the style, not at draw time
    x = np.asarray(x, dtype=float)
    mean, low, high = (np.asarray(v, dtype=float) for v in (mean, low, high))
    keep = np.isfinite(mean)
    (line,) = ax.plot(x[keep], mean[keep], color=color, label=label, marker=marker, markersize=3.5,
                      linewidth=linewidth, zorder=3, **kwargs)
    line.set_gid(gid)
    band = np.isfinite(low) & np.isfinite(high)
    if band.any():
        fill = ax.fill_between(x, np.where(band, low, np.nan), np.where(band, high, np.nan), color=color,
                               alpha=alpha, linewidth=0, zorder=2)
        fill.set_gid(f"{gid}-interval")
        fill.set_label(f"_{label} interval")
    return line


def add_reference_line(ax, y: float):
    """A dashed horizontal reference line at ``y`` (``gid="reference"``, kept out of legends)."""
    line = ax.axhline(y, **REFERENCE_STYLE)
    line.set_gid("reference")
    line.set_label(f"_reference y={y:g}")
    return line


def integer_ticks(ax, n: int) -> None:
    """Integer ticks ``1..n`` on the x axis (every tick up to 12, fewer beyond)."""
    from matplotlib.ticker import MaxNLocator

    if n <= 12:
        ax.set_xticks(np.arange(1, n + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.6, n + 0.4)


# ----------------------------------------------------------------------------- output


def check_out_path(out: str | os.PathLike) -> Path:
    """``out`` as a Path; ``ValueError`` unless its suffix is one of :data:`FORMATS`."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(
            f"--out {str(out)!r}: unsupported file type {out.suffix or '(none)'!r}; use one of {', '.join(FORMATS)}"
        )
    return out


def sibling(out: Path, tag: str, suffix: str | None = None) -> Path:
    """``<dir>/<stem><tag><suffix>`` beside ``out`` (suffix defaults to ``out``'s)."""
    return out.with_name(f"{out.stem}{tag}{out.suffix if suffix is None else suffix}")


def save_figure(fig, out: str | os.PathLike, png: bool = False) -> list[Path]:
    """Save ``fig`` to ``out`` (format from its suffix) and, if ``png``, also as PNG beside it.

    Returns the paths written. Parent folders are created.
    """
    out = check_out_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out]
    if png and out.suffix.lower() != ".png":
        paths.append(out.with_suffix(".png"))
    for path in paths:
        fig.savefig(path, dpi=PNG_DPI, bbox_inches="tight")
    return paths


def confidence_arg(text: str) -> float:
    """argparse type of ``--confidence``: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"confidence must be a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"confidence must be between 0 and 1, got {text}")
    return value


class PairingWarning(UserWarning):
    """The two variants do not have the same (shift, slot) runs; only the common ones are paired."""


def add_pair_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of a figure comparing two variants: --results --a --b --out --png --confidence."""
    parser.add_argument("--results", required=True, metavar="DIR",
                        help="results directory holding <variant>/shift<k>_slot<s>.json files")
    parser.add_argument("--a", required=True, metavar="VARIANT", help="variant A (e.g. supcon)")
    parser.add_argument("--b", required=True, metavar="VARIANT", help="variant B, subtracted (e.g. ce)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="figure file; the format follows the suffix (.pdf, .png or .svg)")
    parser.add_argument("--png", action="store_true", help="also write a PNG copy of the figure beside it")
    parser.add_argument("--confidence", type=confidence_arg, default=0.95,
                        help="confidence level of the intervals (default: 0.95)")
    return parser


def run_pair_figure(parser: argparse.ArgumentParser, argv, make_figure, format_summary) -> int:
    """Main of a two-variant figure script; returns the exit status.

    ``make_figure(results, a, b, confidence) -> (fig, summary DataFrame)``;
    the figure is saved to ``--out`` (and a PNG copy with ``--png``), the
    summary beside it as ``<stem>_summary.csv`` and printed with
    ``format_summary(summary, a, b)``. Data errors print one line and give 2.
    """
    import sys

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args = parser.parse_args(argv)
    fig = None
    try:
        out = check_out_path(args.out)
        with warnings.catch_warnings():
            # pair_runs already printed the message to stderr; do not print it twice.
            warnings.simplefilter("ignore", PairingWarning)
            fig, summary = make_figure(args.results, args.a, args.b, args.confidence)
        written = save_figure(fig, out, png=args.png)
        csv_path = sibling(out, "_summary", ".csv")
        summary.to_csv(csv_path, index=False)
        written.append(csv_path)
    except (FileNotFoundError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if fig is not None:
            plt.close(fig)
    print(format_summary(summary, args.a, args.b))
    for path in written:
        print(f"wrote {path}")
    return 0
