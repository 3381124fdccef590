"""Task 1's backward transfer in the adversarial sequences: the report printed after the figure.

The end point of each curve of :func:`~proglearn_supcon.plotting.adversarial_curves.curve_table`
(:func:`format_report`), how fast each curve falls (:func:`slope_report`) and
the transformers that look failed (:func:`flagged_report`): the lines that
``proglearn-supcon adversarial`` and the end of an adversarial run print.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from proglearn_supcon.metrics.intervals import mean_and_interval, paired_difference
from proglearn_supcon.plotting.adversarial_curves import UNITS, X_LABELS, AdversarialCurves
from proglearn_supcon.runs.bte_curves import SLOPE_UNITS, curve_slopes
from proglearn_supcon.runs.flags import flagged_lines

__all__ = ["flagged_report", "format_report", "slope_report"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n != 1 else word.removesuffix('s')}"


def format_report(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """The end point of each series of ``table`` (:func:`curve_table`) and where a difference excludes 0.

    A difference series is one whose name holds ``" - "`` (``"a - b"``; variant names never do).
    """
    protocol = table["protocol"].iloc[0]
    unit, why = UNITS[protocol]
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
                f"  {'':<12} interval excludes 0 at {X_LABELS[protocol]}: {', '.join(map(str, apart)) or 'none'} "
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
    unit = UNITS[curves.protocol][0]
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
