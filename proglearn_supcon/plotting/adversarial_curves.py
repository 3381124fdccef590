"""Task 1's backward transfer in the adversarial sequences: the curves of a results folder and their table.

:func:`load_curves` reads every variant's runs of one adversarial protocol
(label shuffle or rotation) and their BTE curves
(:mod:`proglearn_supcon.runs.bte_curves`), and pairs two of them for their
difference; :func:`curve_table` gives the numbers behind the figure of
:mod:`proglearn_supcon.plotting.plot_adversarial`: each line's mean and
Student-t interval over the independent units, shifts (their slots averaged
first) or repetitions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from proglearn_supcon.metrics.intervals import mean_and_interval, paired_difference
from proglearn_supcon.runs.analysis import pair_loaded_runs
from proglearn_supcon.runs.bte_curves import BTECurves, bte_curves
from proglearn_supcon.runs.results import list_variants, load_runs
from proglearn_supcon.runs.schema import RunResult

__all__ = [
    "TABLE_COLUMNS",
    "UNITS",
    "X_LABELS",
    "AdversarialCurves",
    "CurveLine",
    "curve_lines",
    "curve_table",
    "load_curves",
]

#: Columns of the table behind the figure, one row per (series, x).
TABLE_COLUMNS = ("protocol", "x_name", "x", "series", "mean", "ci_low", "ci_high", "n_runs", "n_clusters")
#: What the clusters of each protocol are, in the figure's and report's words.
UNITS = {
    "label-shuffle": ("shifts", "the slots of a shift averaged first: they share its test images"),
    "rotation": ("repetitions", "the angles of a repetition share its data split and task 1's transformer"),
}
#: The x axis of each protocol, in the figure's and report's words.
X_LABELS = {"label-shuffle": "number of tasks seen", "rotation": "angle of task 2 (degrees)"}


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
class CurveLine:
    """One line of the figure and its rows of the table: a variant's mean BTE, or the paired difference."""

    name: str
    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_runs: np.ndarray  # per x: the runs (pairs) with a value
    n_clusters: np.ndarray  # per x: the clusters among them


def _line(name: str, x: np.ndarray, values: np.ndarray, clusters: np.ndarray, interval) -> CurveLine:
    """The line of ``values`` (R, X) whose mean and interval ``interval`` gives."""
    finite = np.isfinite(values)
    n_clusters = np.array([len(np.unique(clusters[finite[:, i]])) for i in range(values.shape[1])])
    return CurveLine(name, x, *interval, finite.sum(axis=0), n_clusters)


def curve_lines(curves: AdversarialCurves, confidence: float = 0.95) -> list[CurveLine]:
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
        for line in curve_lines(curves, confidence)
        for i in range(len(line.x))
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
