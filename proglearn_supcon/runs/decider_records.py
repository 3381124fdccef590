"""The ``deciders`` section of a results file: accuracy under every decider, from the same voters.

A run records its accuracies once per decider of
:data:`~proglearn_supcon.deciders.DECIDERS`, all computed from the same
voters' posteriors, so two deciders compare paired by construction, with no
retraining. The file's top-level ``accuracy`` is the network's own decider
(its ``decider`` parameter); the section holds every one::

    "deciders": {
      "accuracy": {"average": [{"task": 0, "n_tasks_seen": 1, "accuracy": 0.31}, ...], ...},
      "weights": {"shrunk-em": [{"task": 0, "weights": [0.7, 0.2, ...]}, ...], ...}
    }

``weights`` are each task's voter weights after the last task, in
transformer order. Files written before deciders were recorded have no
section: their accuracy is the average's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "accuracy_from_rows",
    "accuracy_rows",
    "deciders_from_payload",
    "deciders_payload",
    "finite_or_none",
    "with_decider",
]


def finite_or_none(value: float) -> float | None:
    """``value`` as a float, or None (JSON null) if it is NaN or infinite."""
    value = float(value)
    return value if np.isfinite(value) else None


def accuracy_rows(accuracy: np.ndarray) -> list[dict]:
    """Tidy rows ``{"task", "n_tasks_seen", "accuracy"}`` of a (T, T) accuracy matrix (NaN as null)."""
    n_tasks = accuracy.shape[0]
    return [
        {"task": t, "n_tasks_seen": j + 1, "accuracy": finite_or_none(accuracy[j, t])}
        for j in range(n_tasks)
        for t in range(j + 1)
    ]


def accuracy_from_rows(rows: list[dict], n_tasks: int) -> np.ndarray:
    """Inverse of :func:`accuracy_rows`: the (T, T) matrix, NaN where no row says."""
    accuracy = np.full((n_tasks, n_tasks), np.nan)
    for row in rows:
        value = row["accuracy"]
        accuracy[row["n_tasks_seen"] - 1, row["task"]] = np.nan if value is None else value
    return accuracy


def deciders_payload(accuracy: dict[str, np.ndarray], weights: dict[str, list[list[float]]]) -> dict[str, Any]:
    """The ``deciders`` section from per-decider accuracy matrices and per-task weights."""
    return {
        "accuracy": {name: accuracy_rows(matrix) for name, matrix in accuracy.items()},
        "weights": {
            name: [{"task": t, "weights": [float(w) for w in task_weights]} for t, task_weights in enumerate(per_task)]
            for name, per_task in weights.items()
        },
    }


def deciders_from_payload(section: dict[str, Any], n_tasks: int) -> tuple[dict, dict]:
    """``(accuracy, weights)`` of a ``deciders`` section (KeyError/TypeError on a malformed one)."""
    accuracy = {name: accuracy_from_rows(rows, n_tasks) for name, rows in section["accuracy"].items()}
    weights = {
        name: [row["weights"] for row in sorted(rows, key=lambda r: r["task"])]
        for name, rows in section.get("weights", {}).items()
    }
    return accuracy, weights


def with_decider(run, name: str | None):
    """``run`` (a RunResult) with its ``accuracy`` as decider ``name`` made it; the run itself if None.

    Raises
    ------
    ValueError
        If the run did not record that decider (the message lists those it did).
    """
    if name is None or name == run.decider:
        return run
    recorded = run.decider_accuracy or {}
    if name not in recorded:
        have = ", ".join(recorded) or f"only its own, {run.decider!r}"
        raise ValueError(
            f"{run.variant} {run.shift}/{run.slot} has no accuracy under decider {name!r} (recorded: {have}); "
            "runs record every decider only since the learned deciders exist"
        )
    return dataclasses.replace(run, accuracy=recorded[name], shown_decider=name)
