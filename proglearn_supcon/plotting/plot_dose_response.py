"""The dose-response figure: cross-task voter accuracy against effective rank, every setting of both losses.

Drawn by ``proglearn-supcon dose-response``
(:mod:`proglearn_supcon.experiments.dose_response`, which makes the table and
the fit). One point per run (setting, slot), coloured by loss and labelled
with its knob's value; one line per loss with the slope fitted within runs
(the mean over runs of the per-run slopes), drawn through the loss's mean
point, its slope and interval in the legend. Points carry ``gid`` ``"points-<variant>"``
and lines ``"fit-<variant>"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from proglearn_supcon.plotting.figures import new_figure, style_context

__all__ = ["plot_dose_response"]

#: Colours of the losses, as in the other figures (supcon first).
_COLOURS = {"supcon": "C0", "ce": "C1", "tcl": "C2"}
_AXIS_LABELS = {
    "effective_rank_other": "effective rank of the other tasks' embeddings",
    "effective_rank_own": "effective rank of the own task's embedding",
    "cross_accuracy": "cross-task voter accuracy (transfer matrix, i != j)",
}


def _estimate(fit: pd.DataFrame, model: str, term: str) -> tuple[float, float, float]:
    row = fit[(fit["model"] == model) & (fit["term"] == term)]
    if row.empty:
        return (np.nan, np.nan, np.nan)
    return tuple(float(row.iloc[0][k]) for k in ("estimate", "ci_low", "ci_high"))


def plot_dose_response(table: pd.DataFrame, fit: pd.DataFrame):
    """The figure of a dose-response table and its fit (see the module docstring).

    Parameters
    ----------
    table : DataFrame
        :func:`~proglearn_supcon.experiments.dose_response.dose_table`: one row per run.
    fit : DataFrame
        :func:`~proglearn_supcon.experiments.dose_response.fit_relation` of that table.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x_name = fit["x"].iloc[0] if len(fit) else "effective_rank_other"
    y_name = fit["y"].iloc[0] if len(fit) else "cross_accuracy"
    view = f"{table['space'].iloc[0]} output, {table['split'].iloc[0]} data" if len(table) else ""
    with style_context():
        fig = new_figure((6.0, 4.2))
        ax = fig.subplots()
        for k, (variant, points) in enumerate(table.groupby("variant", sort=False)):
            colour = _COLOURS.get(variant, f"C{k + 3}")
            x, y = points[x_name].to_numpy(float), points[y_name].to_numpy(float)
            scatter = ax.scatter(x, y, color=colour, s=18, zorder=3, label=f"{variant} ({points['knob'].iloc[0]})")
            scatter.set_gid(f"points-{variant}")
            for xi, yi, value in zip(x, y, points["value"]):
                ax.annotate(f"{value:g}", (xi, yi), xytext=(3, 2), textcoords="offset points", fontsize="x-small")
            slope, low, high = _estimate(fit, variant, "slope")
            finite = np.isfinite(x) & np.isfinite(y)
            if np.isfinite(slope) and finite.any():
                # The per-run intercepts differ from run to run; the line shows the within-run slope.
                centre_x, centre_y = x[finite].mean(), y[finite].mean()
                span = np.array([x[finite].min(), x[finite].max()])
                interval = f" [{low:.2g}, {high:.2g}]" if np.isfinite(low) else ""
                (line,) = ax.plot(
                    span,
                    centre_y + slope * (span - centre_x),
                    color=colour,
                    linewidth=1.4,
                    label=f"slope {slope:.2g}{interval}",
                )
                line.set_gid(f"fit-{variant}")
        n_runs = table.groupby("variant")["slot"].nunique()
        runs = ", ".join(f"{v}: {n} run{'s' if n != 1 else ''}" for v, n in n_runs.items())
        shifts = ", ".join(str(s) for s in sorted(set(table["shift"])))
        ax.set(
            xlabel=_AXIS_LABELS.get(x_name, x_name),
            ylabel=_AXIS_LABELS.get(y_name, y_name),
            title=f"Dose-response, shift {shifts} ({view}; {runs}; slopes: 95% interval over runs)",
        )
        ax.title.set_fontsize("small")
        ax.legend(fontsize="small")
        fig.draw_without_rendering()  # lay out inside the style
    return fig
