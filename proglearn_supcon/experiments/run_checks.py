"""Check every run of a sweep against its data set before the first one trains.

A shift or slot that the data set does not have, or a thread count below 1,
used to be found by the run that needed it, after the runs before it had
trained (an hour each on CIFAR). :func:`check_run_settings` checks them all up
front, with the protocol's own index arithmetic
(:func:`~proglearn_supcon.datasets.task_indices`) applied to the data set's
labels, so its verdict is the one the run would reach.

The CIFAR labels are not read for this: the official files hold the same
number of images of every class (:data:`CLASS_SIZES`), which is all the
arithmetic needs, so the check costs nothing and works on a driver that does
not hold the data (a cluster's workers read their own).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from proglearn_supcon.datasets import DATASETS, task_indices

__all__ = ["CLASS_SIZES", "check_out_folder", "check_run_settings", "pool_labels"]

#: (classes, images per class, training and test pooled) of the official CIFAR files.
CLASS_SIZES = {"cifar100": (100, 600), "cifar10": (10, 6000)}


def pool_labels(dataset: str) -> np.ndarray:
    """Labels of ``dataset`` as :func:`~proglearn_supcon.datasets.task_sequence` pools them (their counts matter)."""
    if dataset in CLASS_SIZES:
        n_classes, per_class = CLASS_SIZES[dataset]
        return np.repeat(np.arange(n_classes, dtype=np.int64), per_class)
    from sklearn.datasets import load_digits

    # "digits-hard" distorts the images of "digits" and keeps their labels.
    return load_digits().target.astype(np.int64)


def check_run_settings(specs, args: argparse.Namespace) -> str | None:
    """The first setting of any run of ``specs`` that cannot work, as one line; None when all can.

    Checks ``--threads-per-run`` (at least 1) and, for the 10x10 and
    label-shuffle sequences, every run's shift and slot together with the
    task shape (``--n-tasks``, ``--classes-per-task``, ``--n-train-per-task``)
    against the data set. The rotation sequence's settings are checked when
    its data are loaded, which happens before any training too.
    """
    if args.threads_per_run is not None and args.threads_per_run < 1:
        return f"--threads-per-run must be at least 1; got {args.threads_per_run}"
    if args.protocol == "rotation":
        return None
    n_tasks, classes_per_task, n_train = (
        default if given is None else given
        for given, default in zip((args.n_tasks, args.classes_per_task, args.n_train_per_task), DATASETS[args.dataset])
    )
    labels = pool_labels(args.dataset)
    pool_size = 6 * (int(np.unique(labels, return_counts=True)[1].min()) // 6)
    # A shift's validity does not depend on the slot, nor a slot's on the
    # shift: check each value once, beside shift 1 and slot 0 (which exist
    # whenever the task shape fits), not every (shift, slot) pair.
    checks = [("--shifts", shift, {"shift": shift, "slot": 0}) for shift in sorted({s.shift for s in specs})]
    checks += [("--slots", slot, {"shift": 1, "slot": slot}) for slot in sorted({s.slot for s in specs})]
    for option, value, where in checks:
        try:
            task_indices(labels, n_tasks, classes_per_task, n_train, pool_size, **where)
        except ValueError as exc:
            if "shift must" in str(exc) or "slot must" in str(exc):
                return f"{option} {value} does not fit {args.dataset}: {exc}"
            return f"{args.dataset}: {exc}"
    return None


def check_out_folder(out: str | os.PathLike, variants) -> str | None:
    """Create ``out`` and its variant folders and write a file in each; why that failed, as one line, or None.

    A results folder that cannot be written used to be found when the first
    run came back, and that run was lost: check before anything trains.
    """
    for folder in [Path(out), *(Path(out) / variant for variant in variants)]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            return f"cannot use {folder} as a results folder: it, or a folder above it, is a file"
        except OSError as exc:
            return f"cannot create the results folder {folder}: {exc.strerror or exc}"
        try:
            handle, name = tempfile.mkstemp(dir=folder, prefix=".write-check.")
            os.close(handle)
            os.unlink(name)
        except OSError as exc:
            return f"cannot write in the results folder {folder}: {exc.strerror or exc}"
    return None
