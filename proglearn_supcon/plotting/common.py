"""Shared helpers of the figure scripts: style, drawing, saving.

The numbers drawn come from :mod:`proglearn_supcon.runs.analysis`. Figures are
:class:`matplotlib.figure.Figure` objects made with :func:`new_figure`, not
pyplot figures: drawing and saving them needs no GUI backend, so nothing here
switches the backend of the caller (a notebook keeps its own).

Every figure is drawn inside :func:`style_context` (seaborn ``whitegrid`` at
``paper`` size with the colour-blind-safe ``colorblind`` palette) with
constrained layout, so labels do not overlap at paper size.

Lines that carry data are tagged so that a reader of the figure (a test, a
notebook) can tell them from decorations without relying on order:

* ``gid="data"``: one curve of a metric (per task, or a difference);
* ``gid="mean"``: the mean over the tasks seen (accuracy panel of
  :func:`proglearn_supcon.plotting.plot_variant.plot_variant`);
* ``gid="reference"``: a dashed horizontal reference line (``y = 1`` on the
  efficiency panels of one variant, ``y = 0`` on the difference panels).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from proglearn_supcon.runs.analysis import PairingWarning

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
    import matplotlib
    import seaborn as sns

    rc = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=font_scale))
    rc.update({"legend.frameon": False, "axes.titleweight": "bold", "savefig.bbox": "tight"})
    with matplotlib.rc_context(rc), sns.color_palette("colorblind"):
        yield


def new_figure(figsize: tuple[float, float]):
    """A constrained-layout :class:`~matplotlib.figure.Figure` outside pyplot.

    Unlike ``plt.figure`` it is not registered with pyplot, needs no backend
    (``fig.savefig`` renders with Agg, PDF or SVG from the file's suffix) and is
    freed when no longer referenced; call it inside :func:`style_context`, which
    the figure reads its style from when it is created and drawn.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


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


# ----------------------------------------------------------------------------- drawing


def plot_band(
    ax,
    x,
    mean,
    low,
    high,
    *,
    color,
    label: str,
    gid: str = "data",
    marker: str | None = "o",
    linewidth: float = 1.4,
    alpha: float = 0.2,
    **kwargs,
):
    """Draw ``mean`` over ``x`` as a line tagged ``gid``/``label`` with a shaded ``[low, high]`` band.

    Points where ``mean`` is NaN are dropped from the line (so its data are
    exactly the finite values); the band is drawn where both limits are finite.
    """
    from matplotlib.colors import to_rgba

    color = to_rgba(color)  # resolve "C<n>" now, inside the style, not at draw time
    x = np.asarray(x, dtype=float)
    mean, low, high = (np.asarray(v, dtype=float) for v in (mean, low, high))
    keep = np.isfinite(mean)
    (line,) = ax.plot(
        x[keep],
        mean[keep],
        color=color,
        label=label,
        marker=marker,
        markersize=3.5,
        linewidth=linewidth,
        zorder=3,
        **kwargs,
    )
    line.set_gid(gid)
    band = np.isfinite(low) & np.isfinite(high)
    if band.any():
        fill = ax.fill_between(
            x,
            np.where(band, low, np.nan),
            np.where(band, high, np.nan),
            color=color,
            alpha=alpha,
            linewidth=0,
            zorder=2,
        )
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


def save_figure_and_table(fig, table, out: str | os.PathLike, png: bool = False) -> list[Path]:
    """Save ``fig`` as :func:`save_figure` does and ``table`` beside it as ``<stem>_summary.csv``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    table : pandas.DataFrame
        Its summary table, written without the index.
    out : path-like
        The figure file; its suffix must be one of :data:`FORMATS`.
    png : bool, default False
        Also write a PNG copy of the figure.

    Returns
    -------
    list of Path
        The files written, the table last.
    """
    written = save_figure(fig, out, png=png)
    csv_path = sibling(Path(out), "_summary", ".csv")
    table.to_csv(csv_path, index=False)
    return [*written, csv_path]


def confidence_arg(text: str) -> float:
    """argparse type of ``--confidence``: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"confidence must be a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"confidence must be between 0 and 1, got {text}")
    return value


def add_pair_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of a two-variant figure: --results --a --b --out --png --confidence --allow-mixed-recipes."""
    parser.add_argument(
        "--results",
        required=True,
        metavar="DIR",
        help="results directory holding <variant>/shift<k>_slot<s>.json files",
    )
    parser.add_argument("--a", required=True, metavar="VARIANT", help="variant A (e.g. supcon)")
    parser.add_argument("--b", required=True, metavar="VARIANT", help="variant B, subtracted (e.g. ce)")
    return add_output_arguments(parser)


def add_output_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of a figure with its table: --out --png --confidence --allow-mixed-recipes."""
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="figure file; the format follows the suffix (.pdf, .png or .svg)"
    )
    parser.add_argument("--png", action="store_true", help="also write a PNG copy of the figure beside it")
    parser.add_argument(
        "--confidence", type=confidence_arg, default=0.95, help="confidence level of the intervals (default: 0.95)"
    )
    return add_mixed_recipes_argument(parser)


def add_decider_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``--decider`` option: show the runs' accuracy under another recorded decider (see :func:`apply_decider`)."""
    from proglearn_supcon.deciders import DECIDERS

    parser.add_argument(
        "--decider",
        choices=tuple(DECIDERS),
        default=None,
        help="use the runs' accuracies under this decider (recorded in every results file since the learned "
        "deciders; default: each run's own). A variant written VARIANT@DECIDER picks a decider for that "
        "variant alone, e.g. --a supcon@shrunk-em --b supcon@average compares two deciders of the same runs",
    )
    return parser


def apply_decider(args: argparse.Namespace) -> argparse.Namespace:
    """Write ``args.decider`` into the variant options as ``VARIANT@DECIDER`` (those naming none yet).

    Covers ``variant``, ``variants``, ``a`` and ``b``; ``variants=None`` (all
    variants with results) becomes the list of them, so the decider reaches
    every one. Returns ``args``.
    """
    decider = getattr(args, "decider", None)
    if decider is None:
        return args

    def named(variant):
        return variant if variant is None or "@" in variant else f"{variant}@{decider}"

    if getattr(args, "variants", "absent") is None and getattr(args, "results", None) is not None:
        from proglearn_supcon.runs.results import list_variants

        args.variants = list_variants(args.results)
    for option in ("variant", "a", "b"):
        if isinstance(getattr(args, option, None), str):
            setattr(args, option, named(getattr(args, option)))
    if isinstance(getattr(args, "variants", None), list):
        args.variants = [named(v) for v in args.variants]
    return args


def add_mixed_recipes_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``--allow-mixed-recipes`` and ``--decider`` options (see :func:`proglearn_supcon.runs.results.load_runs`)."""
    add_decider_argument(parser)
    parser.add_argument(
        "--allow-mixed-recipes",
        action="store_true",
        help="pool the runs of a variant even if their recipes (network parameters but the seed) differ; "
        "by default that is an error naming two such files",
    )
    return parser


def run_pair_figure(parser: argparse.ArgumentParser, argv, make_figure, format_summary) -> int:
    """Main of a two-variant figure script; returns the exit status.

    ``make_figure(results, a, b, confidence, allow_mixed_recipes=...) -> (fig, summary DataFrame)``;
    the figure is saved to ``--out`` (and a PNG copy with ``--png``), the
    summary beside it as ``<stem>_summary.csv`` and printed with
    ``format_summary(summary, a, b)``. Data errors print one line and give 2.
    """

    def make(args):
        fig, summary = make_figure(
            args.results, args.a, args.b, args.confidence, allow_mixed_recipes=args.allow_mixed_recipes
        )
        return fig, summary, format_summary(summary, args.a, args.b)

    return run_figure_command(parser, argv, make)


def run_figure_command(parser: argparse.ArgumentParser, argv, make) -> int:
    """Main of a figure-and-table script (options of :func:`add_output_arguments`); returns the exit status.

    ``make(args) -> (fig, table DataFrame, report str)``; the figure is saved
    to ``--out`` (and a PNG copy with ``--png``), the table beside it as
    ``<stem>_summary.csv``, and the report printed. ``FileNotFoundError`` and
    ``ValueError`` (missing or bad results), and an ``OSError`` writing the
    files (:func:`write_error`), print one line and give 2.
    """
    args = apply_decider(parser.parse_args(argv))
    try:
        out = check_out_path(args.out)
        with warnings.catch_warnings():
            # pair_runs already printed the message to stderr; do not print it twice.
            warnings.simplefilter("ignore", PairingWarning)
            fig, table, report = make(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        written = save_figure_and_table(fig, table, out, png=args.png)
    except OSError as exc:
        print(f"{parser.prog}: error: {write_error(exc, out)}", file=sys.stderr)
        return 2
    print(report)
    for path in written:
        print(f"wrote {path}")
    return 0


def write_error(exc: OSError, out: str | os.PathLike) -> str:
    """One line for an ``OSError`` raised writing the figure ``out`` or a file beside it (a read-only folder, ...)."""
    return f"cannot write {exc.filename or out}: {exc.strerror or exc}"
