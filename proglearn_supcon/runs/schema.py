"""The results document of one run and its in-memory form, :class:`RunResult`.

A *run* is one (variant, shift, slot) of a task sequence. Its document (one
JSON file, ``<results_dir>/<variant>/shift<shift>_slot<slot>.json``, written
and read by :mod:`proglearn_supcon.runs.results`) holds::

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
        "cpu_capability": "AVX2",             # torch's CPU kernels (AVX2, AVX512, ...)
        "cpu_model": "AMD EPYC", ...          # /proc/cpuinfo's model name
      },
      "accuracy": [                           # tidy: one row per (task, n_tasks_seen)
        {"task": 0, "n_tasks_seen": 1, "accuracy": 0.31}, ...
      ],
      "tasks": [                              # tidy: one row per task
        {"task": 0, "single_task_accuracy": 0.31, "train_time_s": 12.0,
         "single_task_inference_time_s": 0.4,
         "multitask_inference_time_s": 0.4, "peak_memory_mb": 900.0,
         "n_epochs_run": 45, "best_epoch": 30, "val_accuracy": 0.4,
         "decider_time_s": 0.05}, ...
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
:func:`~proglearn_supcon.runs.results.load_runs` raises
:class:`~proglearn_supcon.runs.provenance.MixedRecipesError` otherwise, unless
told ``allow_mixed_recipes`` (``--allow-mixed-recipes`` on the command line).

The adversarial sequences (:mod:`proglearn_supcon.datasets.adversarial`)
write the same document, with ``config["protocol"]`` naming the sequence
(files without it are ``"tenxten"``, the 10x10 protocol). A label-shuffle run
evaluates task 0 only: the accuracies of the other tasks are ``null``, and
only task 0 has a single-task accuracy. A rotation run is one repetition at one
angle, stored as ``<variant>/repetition<r>_angle<a>.json`` with ``"shift"``
holding the repetition and ``"slot"`` the angle in degrees (also in
``config["repetition"]`` and ``config["angle"]``; see
:func:`~proglearn_supcon.runs.results.run_keys`); its two "tasks" are its two
transformers: ``accuracy`` holds task 0 after transformer 0 (its single-task
learner, ``n_tasks_seen`` 1) and after both
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
existed and hold process-lifetime peaks too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from proglearn_supcon.runs.provenance import recipe_hash

__all__ = ["DEFAULT_VIEW", "GEOMETRY_SPACES", "GEOMETRY_SPLITS", "SCHEMA", "TASK_FIELDS", "Diagnostics", "RunResult"]

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
    # model selection was recorded. val_accuracy: the validation kNN accuracy
    # of the kept epoch, or, for a transformer trained without a validation
    # split, its own voter's leave-one-out accuracy on the task's voter split.
    "n_epochs_run",
    "best_epoch",
    "val_accuracy",
    # Wall seconds the task's step spent on the network's decider: the new voters' leave-one-out posteriors
    # and the refits of every task's decider that gained a voter (0 for the average). add_task fits them, so
    # this is part of train_time_s, but for the one-voter decider of the single-task accuracy, part of
    # single_task_inference_time_s. Absent (NaN) in files written before it was recorded, and in rotation runs.
    "decider_time_s",
)


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
