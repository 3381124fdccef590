"""The ranges a run's measurements must lie in; a results file outside them is damaged.

A file can be valid JSON with every field and still not be a run: a hand
edit or a bad merge can leave an accuracy of 7.5 or a negative time. Such a
file is treated as corrupt (:class:`~proglearn_supcon.runs.results.CorruptResultsError`),
so the experiment moves it aside and redoes its run, and the figures refuse it,
instead of averaging it in.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FRACTIONS", "NON_NEGATIVE", "out_of_range"]

#: Per-task fields that are fractions, in [0, 1].
FRACTIONS = ("single_task_accuracy", "val_accuracy")
#: Per-task fields that cannot be negative: times in seconds, memory, epoch counts.
NON_NEGATIVE = (
    "train_time_s",
    "single_task_inference_time_s",
    "multitask_inference_time_s",
    "peak_memory_mb",
    "n_epochs_run",
    "decider_time_s",
)


def out_of_range(accuracy: np.ndarray, tasks: dict[str, np.ndarray]) -> str | None:
    """What lies outside its range in a run's ``accuracy`` and per-task fields, as text; None if nothing.

    NaN is a missing value (``null`` in the file) and allowed anywhere;
    infinities are not.
    """
    checks = [("accuracy", np.asarray(accuracy, dtype=float), 0.0, 1.0)]
    checks += [(name, np.asarray(tasks[name], dtype=float), 0.0, 1.0) for name in FRACTIONS if name in tasks]
    checks += [(name, np.asarray(tasks[name], dtype=float), 0.0, np.inf) for name in NON_NEGATIVE if name in tasks]
    for name, values, low, high in checks:
        known = values[~np.isnan(values)]
        bad = known[(known < low) | (known > high) | np.isinf(known)]
        if bad.size:
            bounds = "[0, 1]" if high == 1.0 else "non-negative and finite"
            return f"{name} {bad[0]:g} is out of range (must be {bounds})"
    return None
