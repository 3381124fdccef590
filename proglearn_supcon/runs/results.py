"""Results files: where a run's file lives, writing and reading it, and loading the runs of a folder.

A run (:class:`~proglearn_supcon.runs.schema.RunResult`; the document it is
written as: :mod:`proglearn_supcon.runs.schema`) is stored at
``<results_dir>/<variant>/shift<shift>_slot<slot>.json`` (:func:`run_path`;
rotation runs at ``repetition<r>_angle<a>.json``, :func:`run_keys`). Files
are written atomically (a temporary file in the same folder, then
:func:`os.replace`; see :mod:`proglearn_supcon.fileio`), so a file that
exists is a finished run, unless something else damaged it (a partial copy, a
hand edit, values out of range such as an accuracy of 7.5:
:mod:`proglearn_supcon.runs.value_ranges`): :func:`read_run` then raises
:class:`CorruptResultsError` naming the file, and the experiment moves such a
file aside to ``<name>.corrupt`` (:func:`move_aside`) and redoes its run.

:func:`load_runs` loads the runs of one variant for the figures and
summaries, once they pass the folder's checks: one recipe per variant
(:mod:`proglearn_supcon.runs.provenance`) and one data setting per folder
(:mod:`proglearn_supcon.runs.folder_contract`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from proglearn_supcon.fileio import atomic_write_text  # noqa: F401 - also part of this module's API
from proglearn_supcon.runs.decider_records import (
    accuracy_from_rows,
    accuracy_rows,
    deciders_from_payload,
    deciders_payload,
    with_decider,
)
from proglearn_supcon.runs.decider_records import finite_or_none as _finite_or_none
from proglearn_supcon.runs.folder_contract import check_one_data
from proglearn_supcon.runs.provenance import (  # noqa: F401 - MixedRecipesError, MixedArithmeticWarning: public here too
    MixedArithmeticWarning,
    MixedRecipesError,
    check_one_arithmetic,
    check_one_recipe,
)
from proglearn_supcon.runs.schema import DEFAULT_VIEW, SCHEMA, TASK_FIELDS, Diagnostics, RunResult
from proglearn_supcon.runs.value_ranges import out_of_range

_RUN_NAME = re.compile(r"^(shift-?\d+_slot\d+|repetition\d+_angle\d+)\.json$")


class CorruptResultsError(ValueError):
    """A results file that cannot be read as a run: not JSON, truncated, or missing fields.

    Attributes
    ----------
    path : str
        The file (or the ``source`` given to :func:`from_payload`).
    reason : str
        What is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path} is not a valid results file: {reason}")

    def __reduce__(self):
        # Rebuilt from (path, reason), not from the message, when pickled to or from a worker.
        return type(self), (self.path, self.reason)


def run_keys(protocol: str = "tenxten") -> tuple[str, str]:
    """What ``RunResult.shift`` and ``RunResult.slot`` stand for in runs of ``protocol``.

    ``("shift", "slot")`` for the 10x10 and label-shuffle sequences;
    ``("repetition", "angle")`` for the rotation sequence, whose runs are one
    seeded repetition (its data split, the cluster of its intervals, like a
    shift) at one angle in whole degrees.
    """
    return ("repetition", "angle") if protocol == "rotation" else ("shift", "slot")


def describe_run(variant: str, shift: int, slot: int, protocol: str = "tenxten") -> str:
    """A run as text, e.g. ``"supcon shift 1 slot 0"`` or ``"ce repetition 2 angle 90"``."""
    first, second = run_keys(protocol)
    return f"{variant} {first} {shift} {second} {slot}"


def run_path(results_dir: str | os.PathLike, variant: str, shift: int, slot: int, protocol: str = "tenxten") -> Path:
    """Where the run (variant, shift, slot) is stored: ``<variant>/shift<s>_slot<k>.json``.

    Rotation runs (``protocol="rotation"``) are ``<variant>/repetition<r>_angle<a>.json``
    (see :func:`run_keys`).
    """
    first, second = run_keys(protocol)
    return Path(results_dir) / variant / f"{first}{shift}_{second}{slot}.json"


def to_payload(run: RunResult) -> dict[str, Any]:
    """The JSON document of a run (NaN written as ``null``)."""
    n_tasks = run.n_tasks
    task_rows = [
        {"task": t, **{name: _finite_or_none(run.tasks[name][t]) for name in TASK_FIELDS}} for t in range(n_tasks)
    ]
    payload = {
        "schema": SCHEMA,
        "library_version": run.library_version,
        "variant": run.variant,
        "dataset": run.dataset,
        "shift": int(run.shift),
        "slot": int(run.slot),
        "n_tasks": n_tasks,
        "config": run.config,
        "accuracy": accuracy_rows(run.accuracy),
        "tasks": task_rows,
    }
    if run.decider_accuracy is not None:
        payload["deciders"] = deciders_payload(run.decider_accuracy, run.decider_weights or {})
    if run.flagged_transformers is not None:
        payload["flagged_transformers"] = run.flagged_transformers
    if run.diagnostics is not None:
        payload["diagnostics"] = _diagnostics_payload(run.diagnostics)
    return payload


def _diagnostics_payload(diagnostics: Diagnostics) -> dict[str, Any]:
    matrix = np.asarray(diagnostics.transfer_matrix, dtype=np.float64)
    rows = [
        {
            "transformer": i,
            "task": j,
            "space": space,
            "split": split,
            **{name: _finite_or_none(values[i, j]) for name, values in metrics.items()},
        }
        for (space, split), metrics in diagnostics.views.items()
        for i in range(matrix.shape[0])
        for j in range(matrix.shape[1])
    ]
    payload = {"transfer_matrix": [[_finite_or_none(v) for v in row] for row in matrix], "geometry": rows}
    if diagnostics.decomposition is not None:
        payload["decomposition"] = [
            {"task": t, **{name: _finite_or_none(values[t]) for name, values in diagnostics.decomposition.items()}}
            for t in range(matrix.shape[1])
        ]
    return payload


#: Keys of a geometry row that say where it is, not what it measured.
_GEOMETRY_KEYS = ("transformer", "task", "space", "split")


def _diagnostics_from_payload(payload: dict[str, Any], source: str) -> Diagnostics:
    matrix = np.array(payload["transfer_matrix"], dtype=np.float64)  # null reads as NaN
    if matrix.ndim != 2:
        raise CorruptResultsError(source, f"diagnostics.transfer_matrix must be a 2-D list, got shape {matrix.shape}")
    views: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for row in payload["geometry"]:
        # Rows of files written before views were recorded have no space or split.
        view = (row.get("space", DEFAULT_VIEW[0]), row.get("split", DEFAULT_VIEW[1]))
        metrics = views.setdefault(view, {})
        for name, value in row.items():
            if name in _GEOMETRY_KEYS:
                continue
            # Metric names in the order they were written (dicts keep first-seen order).
            values = metrics.setdefault(name, np.full(matrix.shape, np.nan))
            values[row["transformer"], row["task"]] = np.nan if value is None else value
    views.setdefault(DEFAULT_VIEW, {})
    decomposition = None
    if payload.get("decomposition") is not None:
        names = [k for k in dict.fromkeys(k for row in payload["decomposition"] for k in row) if k != "task"]
        decomposition = {name: np.full(matrix.shape[1], np.nan) for name in names}
        for row in payload["decomposition"]:
            for name in names:
                value = row.get(name)
                decomposition[name][row["task"]] = np.nan if value is None else value
    return Diagnostics.from_views(matrix, views, decomposition)


def from_payload(payload: dict[str, Any], source: str = "<payload>") -> RunResult:
    """Inverse of :func:`to_payload`; raises :class:`CorruptResultsError` naming ``source`` on a bad file."""
    if not isinstance(payload, dict):
        raise CorruptResultsError(source, f"expected a JSON object, got {type(payload).__name__}")
    if payload.get("schema") != SCHEMA:
        raise CorruptResultsError(source, f"unknown schema {payload.get('schema')!r} (expected {SCHEMA})")
    try:
        n_tasks = int(payload["n_tasks"])
        accuracy = accuracy_from_rows(payload["accuracy"], n_tasks)
        deciders = payload.get("deciders")
        decider_accuracy, decider_weights = None, None
        if deciders is not None:
            decider_accuracy, decider_weights = deciders_from_payload(deciders, n_tasks)
        tasks = {name: np.full(n_tasks, np.nan) for name in TASK_FIELDS}
        for row in payload["tasks"]:
            for name in TASK_FIELDS:
                value = row.get(name)
                tasks[name][row["task"]] = np.nan if value is None else value
        problem = out_of_range(accuracy, tasks)
        if problem:
            raise CorruptResultsError(source, problem)
        return RunResult(
            variant=payload["variant"],
            dataset=payload.get("dataset", ""),
            shift=int(payload["shift"]),
            slot=int(payload["slot"]),
            accuracy=accuracy,
            tasks=tasks,
            config=payload.get("config", {}),
            library_version=payload.get("library_version", ""),
            diagnostics=(
                None
                if payload.get("diagnostics") is None
                else _diagnostics_from_payload(payload["diagnostics"], source)
            ),
            flagged_transformers=payload.get("flagged_transformers"),
            decider_accuracy=decider_accuracy,
            decider_weights=decider_weights,
        )
    except CorruptResultsError:
        raise
    except KeyError as exc:
        raise CorruptResultsError(source, f"missing field {exc.args[0]!r}") from exc
    # ValueError: a field of the wrong kind, e.g. int("ten"); AttributeError: a
    # row that is not an object.
    except (TypeError, IndexError, ValueError, AttributeError) as exc:
        raise CorruptResultsError(source, repr(exc)) from exc


def write_run(results_dir: str | os.PathLike, run: RunResult) -> Path:
    """Write one run atomically and return its path."""
    path = run_path(results_dir, run.variant, run.shift, run.slot, run.protocol)
    atomic_write_text(path, json.dumps(to_payload(run), indent=1))
    return path


def read_run(path: str | os.PathLike) -> RunResult:
    """Read one results file.

    Raises
    ------
    CorruptResultsError
        If the file is not valid UTF-8 JSON (e.g. truncated) or lacks a
        required field; the message names the file.
    OSError
        If it cannot be read at all (missing, not a file, no permission).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptResultsError(str(path), f"{type(exc).__name__}: {exc}") from exc
    return from_payload(payload, source=str(path))


def move_aside(path: str | os.PathLike) -> Path:
    """Rename a results file to ``<name>.corrupt`` (or ``<name>.corrupt.1``, ...); return the new path.

    The file is kept, never deleted, so that what went wrong can still be
    looked at; an earlier ``.corrupt`` file is not overwritten. The new name no
    longer matches ``shift<s>_slot<k>.json``, so readers skip it and the run
    counts as not finished.
    """
    path = Path(path)
    target = path.with_name(f"{path.name}.corrupt")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt.{n}")
    # The experiment's driver moves results files while it holds the folder's
    # lock (proglearn_supcon.runs.folder_lock), so the name picked above stays free
    # until the rename; another process renaming the same file first makes
    # this raise FileNotFoundError, which driver.read_finished expects.
    os.rename(path, target)
    return target


def list_variants(results_dir: str | os.PathLike) -> list[str]:
    """Variants that have at least one results file under ``results_dir``."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(_RUN_NAME.match(f.name) for f in p.iterdir()))


def folder_runs(results_dir: str | os.PathLike) -> list[tuple[Path, RunResult]]:
    """Every readable results file under ``results_dir`` (all variants), with its run.

    Corrupt or unreadable files are left out: they hold no settings to
    compare (:mod:`~proglearn_supcon.runs.folder_contract`), and the readers
    that need them report them on their own.
    """
    root = Path(results_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(f for f in folder.iterdir() if _RUN_NAME.match(f.name)):
            try:
                found.append((path, read_run(path)))
            except (CorruptResultsError, OSError):
                continue
    return found


def load_runs(
    results_dir: str | os.PathLike, variant: str, *, allow_mixed_recipes: bool = False, decider: str | None = None
) -> list[RunResult]:
    """Every finished run of ``variant``, sorted by (shift, slot).

    Parameters
    ----------
    results_dir : path-like
        The folder holding ``<variant>/shift<s>_slot<k>.json``.
    variant : str
        The variant to load; ``"VARIANT@DECIDER"`` loads it as ``decider=DECIDER``
        (so two deciders of the same runs can be compared like two variants).
    allow_mixed_recipes : bool, default False
        Return the runs even if they were made with different recipes
        (:attr:`~proglearn_supcon.runs.schema.RunResult.recipe_hash`); by default that is an error, so that
        runs of different experiments are not pooled by mistake.
    decider : str or None, default None
        Give each run's ``accuracy`` as this decider made it (from the run's
        ``deciders`` record, :func:`~proglearn_supcon.runs.decider_records.with_decider`);
        None: the network's own decider. A ValueError if a run lacks it.

    Raises
    ------
    FileNotFoundError
        If ``results_dir`` does not exist.
    CorruptResultsError
        If a file of ``variant`` cannot be read (see :func:`read_run`).
    MixedRecipesError
        If the runs' recipe hashes differ and ``allow_mixed_recipes`` is False.
    MixedDataError
        If two runs of the folder (any variant) were made on different data
        (:mod:`proglearn_supcon.runs.folder_contract`); not waived by ``allow_mixed_recipes``.
    ValueError
        If ``variant`` has no results there (the message lists the variants that do).

    Warns
    -----
    MixedArithmeticWarning
        If the runs recorded different arithmetic (bf16 autocast and fp32).
    """
    variant, _, named = variant.partition("@")
    decider = named or decider
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results directory {str(root)!r} does not exist")
    folder = root / variant
    files = sorted(f for f in folder.iterdir() if _RUN_NAME.match(f.name)) if folder.is_dir() else []
    if not files:
        available = ", ".join(list_variants(root)) or "none"
        raise ValueError(f"no results for variant {variant!r} in {str(root)!r} (variants with results: {available})")
    runs = [read_run(f) for f in files]
    if not allow_mixed_recipes:
        check_one_recipe(runs, files, variant)
    check_one_arithmetic(runs, files, variant)
    # The whole folder, not only this variant: variants are compared with each other.
    found = folder_runs(root)
    check_one_data([run for _, run in found], [path for path, _ in found])
    return sorted((with_decider(run, decider) for run in runs), key=lambda r: (r.shift, r.slot))


def stack_runs(runs: list[RunResult]) -> tuple[np.ndarray, np.ndarray]:
    """Stack runs into ``accuracy`` (R, T, T) and ``single_task_accuracy`` (R, T).

    Raises ``ValueError`` if the runs have different task counts.
    """
    counts = {r.n_tasks for r in runs}
    if len(counts) != 1:
        raise ValueError(f"runs have different numbers of tasks: {sorted(counts)}")
    return (
        np.stack([r.accuracy for r in runs]),
        np.stack([r.single_task_accuracy for r in runs]),
    )
