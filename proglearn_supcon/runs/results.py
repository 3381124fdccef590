"""Results files of the task-sequence experiment: one JSON file per run.

A *run* is one (variant, shift, slot) of a task sequence. Its file lives at
``<results_dir>/<variant>/shift<shift>_slot<slot>.json`` and holds::

    {
      "schema": 1,
      "library_version": "0.1.0",
      "variant": "supcon", "dataset": "cifar100", "shift": 1, "slot": 0,
      "n_tasks": 10,
      "config": {                             # every option of the run, and:
        "network_params": {"loss": "supcon", "epochs": 100, ...},
        "provenance": {                       # what made the run (proglearn_supcon.runs.provenance)
          "git_commit": "4f0c...", "git_dirty": false,   # "unknown", null outside a git checkout
          "versions": {"torch": "2.13.0+cpu", "numpy": "2.1.3", "scikit-learn": "1.6.1"},
          "recipe_hash": "9b1d..."            # sha256 of network_params but the seed, device, verbose
        },
        "arithmetic": "fp32",                 # or "bf16 autocast": what precision="auto" resolved to
        "cpu_capability": "AVX2", ...         # torch's CPU kernels (AVX2, AVX512, ...)
      },
      "accuracy": [                           # tidy: one row per (task, n_tasks_seen)
        {"task": 0, "n_tasks_seen": 1, "accuracy": 0.31}, ...
      ],
      "tasks": [                              # tidy: one row per task
        {"task": 0, "single_task_accuracy": 0.31, "train_time_s": 12.0,
         "single_task_inference_time_s": 0.4,
         "multitask_inference_time_s": 0.4, "peak_memory_mb": 900.0,
         "n_epochs_run": 45, "best_epoch": 30, "val_accuracy": 0.4}, ...
      ],
      "flagged_transformers": [               # transformers that look failed (flags.py)
        {"task": 3, "reasons": ["kept epoch 2 is inside the 5-epoch warm-up"]}
      ],
      "deciders": {                           # accuracy under every decider (decider_records.py)
        "accuracy": {"average": [...], "shrunk-em": [...], ...},
        "weights": {"shrunk-em": [{"task": 0, "weights": [0.7, 0.3]}, ...], ...}
      },
      "diagnostics": {                        # only in runs made with --diagnostics
        "transfer_matrix": [[0.31, 0.22, ...], ...],   # [i][j]: transformer i's voter alone on task j
        "geometry": [                         # tidy: one row per (transformer, task, space, split)
          {"transformer": 0, "task": 1, "space": "encoder", "split": "test",
           "nc1": 2.1, "effective_rank": 410.0, "effective_rank_ceiling": 999.0, ...}, ...
        ],
        "decomposition": [                    # one row per task, after the last task
          {"task": 0, "network_accuracy": 0.52, "own_accuracy": 0.45, ...}, ...
        ]
      }
    }

A geometry row's ``space`` and ``split`` say which embedding it measures
(:data:`GEOMETRY_SPACES`, :data:`GEOMETRY_SPLITS`; what each is exactly:
:mod:`proglearn_supcon.experiments.diagnostics`). Files written before they
were recorded have neither, and only the encoder output's test-set geometry:
their rows read as ``("encoder", "test")``, and they have no
``decomposition``.

``provenance`` is absent from files written before it was recorded; their
:attr:`RunResult.recipe_hash` is computed from ``network_params``. The runs of
one variant are pooled (figures, summaries) only if they share one recipe hash:
:func:`load_runs` raises :class:`MixedRecipesError` otherwise, unless told
``allow_mixed_recipes`` (``--allow-mixed-recipes`` on the command line).

The adversarial sequences (:mod:`proglearn_supcon.datasets.adversarial`)
write the same document, with ``config["protocol"]`` naming the sequence
(files without it are ``"tenxten"``, the 10x10 protocol). A label-shuffle run
evaluates task 0 only: the accuracies of the other tasks are ``null``, and
only task 0 has a single-task accuracy. A rotation run is one repetition at one
angle, stored as ``<variant>/repetition<r>_angle<a>.json`` with ``"shift"``
holding the repetition and ``"slot"`` the angle in degrees (also in
``config["repetition"]`` and ``config["angle"]``; see :func:`run_keys`); its
two "tasks" are its two transformers: ``accuracy`` holds task 0 after
transformer 0 (its single-task learner, ``n_tasks_seen`` 1) and after both
(``n_tasks_seen`` 2; task 1 has no test set, its accuracy is ``null``), and
the per-task fields are those of each transformer.

Tasks are numbered from 0 in the order they were learned; ``n_tasks_seen`` is
``j + 1`` after learning tasks ``0..j``. A task's ``peak_memory_mb`` is the
run's own peak up to the end of that task's evaluation: the peak resident
memory of the process since the run started (Linux's ``VmHWM``, reset at the
start of the run; see :mod:`proglearn_supcon.runs.memory`), plus torch's peak CUDA
memory on a GPU. Where the reset is not possible the config's
``peak_memory_scope`` is ``"process"`` and the figure is the process-lifetime
peak (``ru_maxrss``); files without that entry were written before the reset
existed and hold process-lifetime peaks too. Files are written atomically (a
temporary file in the same folder, then :func:`os.replace`; see
:mod:`proglearn_supcon.fileio`), so a file that
exists is a finished run, unless something else damaged it (a partial copy, a
hand edit, values out of range such as an accuracy of 7.5:
:mod:`proglearn_supcon.runs.value_ranges`): :func:`read_run` then raises
:class:`CorruptResultsError` naming the file, and the experiment moves such a file aside to ``<name>.corrupt``
(:func:`move_aside`) and redoes its run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
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
from proglearn_supcon.runs.provenance import (  # noqa: F401 - MixedRecipesError, MixedArithmeticWarning: public here too
    MixedArithmeticWarning,
    MixedRecipesError,
    check_one_arithmetic,
    check_one_recipe,
    recipe_hash,
)
from proglearn_supcon.runs.value_ranges import out_of_range

#: Version of the results-file layout.
SCHEMA = 1
#: The embedding spaces a geometry record can measure: the encoder output
#: (what the voters use) and the L2-normalised output of the training head.
GEOMETRY_SPACES = ("encoder", "projection")
#: The data a geometry record can measure: a task's test set, or its training data.
GEOMETRY_SPLITS = ("test", "train")
#: The (space, split) of :attr:`Diagnostics.geometry`, and of every record of a
#: file written before records named theirs.
DEFAULT_VIEW = ("encoder", "test")
#: Per-task fields of a run, one value per task in ``RunResult.tasks``.
TASK_FIELDS = (
    "single_task_accuracy",
    "train_time_s",
    "single_task_inference_time_s",
    "multitask_inference_time_s",
    "peak_memory_mb",
    # How each task's transformer trained; absent (NaN) in files written before
    # model selection was recorded.
    "n_epochs_run",
    "best_epoch",
    "val_accuracy",
)
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


@dataclass
class Diagnostics:
    """Embedding-geometry diagnostics of one run (see :mod:`proglearn_supcon.metrics.geometry`).

    Attributes
    ----------
    transfer_matrix : ndarray of shape (T, T), float64
        ``transfer_matrix[i, j]``: accuracy on task ``j``'s test set of
        transformer ``i``'s voter for task ``j`` alone; the diagonal is the
        single-task accuracy.
    geometry : dict of str to ndarray of shape (T, T), float64
        One array per metric; ``geometry[name][i, j]`` is the metric of
        transformer ``i``'s encoder output on task ``j``'s test set (NaN if
        undefined): the view :data:`DEFAULT_VIEW`, ``views[DEFAULT_VIEW]``.
    views : dict of (str, str) to dict of str to ndarray of shape (T, T), float64
        The same per ``(space, split)`` of :data:`GEOMETRY_SPACES` x
        :data:`GEOMETRY_SPLITS` that was measured; always holds
        ``DEFAULT_VIEW`` (``geometry`` itself), and only it for files written
        before the other views were recorded.
    decomposition : dict of str to ndarray of shape (T,), float64, or None
        One array per field of
        :class:`~proglearn_supcon.metrics.decomposition.AccuracyDecomposition`:
        task ``t``'s network accuracy after the last task, split into its
        parts; None in files written before it was recorded.

    Raises
    ------
    ValueError
        If ``views`` holds a ``DEFAULT_VIEW`` different from ``geometry``.
    """

    transfer_matrix: np.ndarray
    geometry: dict[str, np.ndarray]
    views: dict[tuple[str, str], dict[str, np.ndarray]] = field(default_factory=dict)
    decomposition: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        default = self.views.get(DEFAULT_VIEW)
        if default is not None and default is not self.geometry and not _same_metrics(default, self.geometry):
            raise ValueError(f"views[{DEFAULT_VIEW}] differs from geometry; they are the same view")
        # The default view first, so that every reader iterates the views in one order.
        self.views = {DEFAULT_VIEW: self.geometry, **{k: v for k, v in self.views.items() if k != DEFAULT_VIEW}}

    @classmethod
    def from_views(
        cls,
        transfer_matrix: np.ndarray,
        views: dict[tuple[str, str], dict[str, np.ndarray]],
        decomposition: dict[str, np.ndarray] | None = None,
    ) -> "Diagnostics":
        """Diagnostics whose ``geometry`` is ``views[DEFAULT_VIEW]``; KeyError if it is missing."""
        return cls(transfer_matrix, views[DEFAULT_VIEW], dict(views), decomposition)


def _same_metrics(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


@dataclass
class RunResult:
    """One run's measurements as arrays.

    Attributes
    ----------
    accuracy : ndarray of shape (T, T), float64
        ``accuracy[j, t]`` is the accuracy on task ``t`` after learning tasks
        ``0..j``; NaN for ``t > j``.
    tasks : dict of str to ndarray of shape (T,), float64
        One array per name in :data:`TASK_FIELDS`.
    diagnostics : Diagnostics or None
        Only for runs made with ``--diagnostics``; None in older files.
    flagged_transformers : list of dict or None
        The transformers that look failed (:mod:`proglearn_supcon.runs.flags`), as
        ``{"task": t, "reasons": [...]}``; None in files written before flags
        were recorded (:func:`proglearn_supcon.runs.flags.flagged_transformers`
        then derives them from the per-task fields).
    decider_accuracy : dict of str to ndarray of shape (T, T) or None
        ``accuracy`` under every decider, from the same voters
        (:mod:`proglearn_supcon.runs.decider_records`); None in older files.
    decider_weights : dict of str to list of list of float, or None
        Each decider's voter weights per task after the last task.
    shown_decider : str or None
        Set when ``accuracy`` was swapped for another decider's (not written to files).
    """

    variant: str
    dataset: str
    shift: int
    slot: int
    accuracy: np.ndarray
    tasks: dict[str, np.ndarray]
    config: dict[str, Any] = field(default_factory=dict)
    library_version: str = ""
    diagnostics: Diagnostics | None = None
    flagged_transformers: list[dict] | None = None
    decider_accuracy: dict[str, np.ndarray] | None = None
    decider_weights: dict[str, list] | None = None
    shown_decider: str | None = None

    @property
    def decider(self) -> str:
        """The decider of ``accuracy``: ``shown_decider`` if set, else the network's ``decider``.

        ("average" in files older than the parameter; ``shown_decider`` is set by
        :func:`~proglearn_supcon.runs.decider_records.with_decider`.)
        """
        if self.shown_decider is not None:
            return self.shown_decider
        return str((self.config.get("network_params") or {}).get("decider", "average"))

    @property
    def n_tasks(self) -> int:
        return self.accuracy.shape[0]

    @property
    def protocol(self) -> str:
        """The task sequence of the run (``config["protocol"]``); ``"tenxten"`` in files older than the option."""
        return str(self.config.get("protocol", "tenxten"))

    @property
    def single_task_accuracy(self) -> np.ndarray:
        return self.tasks["single_task_accuracy"]

    @property
    def n_test_per_task(self) -> int | None:
        """Test samples per task (``config["n_test_per_task"]``), or None if the file does not say.

        :func:`proglearn_supcon.metrics.transfer.transfer_metrics` needs it (``n_test``)
        to smooth zero errors.
        """
        value = self.config.get("n_test_per_task")
        return None if value is None else int(value)

    @property
    def recipe_hash(self) -> str | None:
        """Hash of the run's recipe (:func:`proglearn_supcon.runs.provenance.recipe_hash`), or None if unknown.

        The one recorded in ``config["provenance"]``; for files written before
        provenance was recorded, computed from ``config["network_params"]``
        (None if the file has neither).
        """
        recorded = (self.config.get("provenance") or {}).get("recipe_hash")
        if recorded is not None:
            return recorded
        params = self.config.get("network_params")
        return None if params is None else recipe_hash(params)


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
        (:attr:`RunResult.recipe_hash`); by default that is an error, so that
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
    # Imported here: folder_contract reads files with this module. The whole
    # folder, not only this variant: variants are compared with each other.
    from proglearn_supcon.runs.folder_contract import check_folder_data

    check_folder_data(root)
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
