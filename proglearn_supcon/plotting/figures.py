"""The figures' style, drawing helpers and saving, shared by the figure modules.

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

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

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


def write_error(exc: OSError, out: str | os.PathLike) -> str:
    """One line for an ``OSError`` raised writing the figure ``out`` or a file beside it (a read-only folder, ...)."""
    return f"cannot write {exc.filename or out}: {exc.strerror or exc}"
