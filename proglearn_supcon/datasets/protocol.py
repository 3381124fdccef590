"""The ProgLearn task-sequence protocol (CIFAR 10x10 and its smaller relatives).

:func:`task_sequence` splits a data set into a sequence of class-disjoint
tasks; the index arithmetic lives in the pure functions
:func:`split_class_pool` and :func:`task_indices`, which work on label arrays
alone.
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from proglearn_supcon.datasets.cifar import load_cifar
from proglearn_supcon.datasets.digits import load_digits_images, load_hard_digits_images

__all__ = ["DATASETS", "Task", "split_class_pool", "task_indices", "task_sequence"]

#: Data sets :func:`task_sequence` knows, with their default
#: (n_tasks, classes_per_task, n_train_per_task).
DATASETS = {
    "cifar100": (10, 10, 500),
    "cifar10": (5, 2, 500),
    "digits": (5, 2, 100),
    "digits-hard": (5, 2, 100),
}


@dataclass
class Task:
    """One task of a sequence.

    Attributes
    ----------
    task_id : int
        Position in the sequence, from 0.
    X_train : ndarray of shape (n_train, H, W, 3), uint8
    y_train : ndarray of shape (n_train,), int64
        Original class ids (not renumbered), grouped class by class.
    X_test : ndarray of shape (n_test, H, W, 3), uint8
    y_test : ndarray of shape (n_test,), int64
    classes : ndarray of shape (classes_per_task,), int64
        The task's class ids, ascending.
    """

    task_id: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: np.ndarray


def _positive(name: str, value: int) -> int:
    value = operator.index(value)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return value


def split_class_pool(
    labels: np.ndarray,
    classes: Sequence[int],
    pool_size: int,
    n_per_class: int,
    shift: int = 1,
    slot: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Training block and test set of some classes under one (shift, slot).

    For each class ``c`` (in the order given): its pooled index list is the
    first ``pool_size`` positions ``i`` with ``labels[i] == c``; it is rolled
    by ``(pool_size // 6) * (shift - 1)`` (``np.roll``, as ProgLearn does);
    the first ``5/6`` of the rolled list is the class's training pool and the
    last ``1/6`` its test set; the training block is entries
    ``slot * n_per_class`` to ``(slot + 1) * n_per_class`` of the pool.

    Parameters
    ----------
    labels : ndarray of shape (n,), int
        Labels of the pooled images (training images first, then test).
    classes : sequence of int
        Class ids to take.
    pool_size : int
        Images per class in the pool; a positive multiple of 6.
    n_per_class : int
        Training images per class in a block.
    shift : int, default 1
        Rotation 1..6; shift ``s`` tests on the ``s``-th sixth counted from the end.
    slot : int, default 0
        Which training block, ``0 .. (5 * pool_size // 6) // n_per_class - 1``.

    Returns
    -------
    train_index : ndarray of shape (len(classes) * n_per_class,), int64
        Indices into ``labels`` of the training block, grouped class by class.
    test_index : ndarray of shape (len(classes) * pool_size // 6,), int64
        Indices into ``labels`` of the test set, grouped class by class.

    Raises
    ------
    ValueError
        On a shift outside 1..6, a slot outside its range, a ``pool_size``
        that is not a positive multiple of 6, or a class with fewer than
        ``pool_size`` images.
    """
    labels = np.asarray(labels)
    pool_size = _positive("pool_size", pool_size)
    n_per_class = _positive("n_per_class", n_per_class)
    shift, slot = operator.index(shift), operator.index(slot)
    if pool_size % 6:
        raise ValueError(f"pool_size must be a multiple of 6 (six test folds); got {pool_size}")
    if not 1 <= shift <= 6:
        raise ValueError(f"shift must be in 1..6; got {shift}")
    fold = pool_size // 6
    n_slots = (pool_size - fold) // n_per_class
    if n_slots == 0:
        raise ValueError(f"{n_per_class} training images per class do not fit in a training pool of {pool_size - fold}")
    if not 0 <= slot < n_slots:
        raise ValueError(
            f"slot must be in 0..{n_slots - 1} ({n_per_class} per class, pool {pool_size - fold}); got {slot}"
        )

    train, test = [], []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < pool_size:
            raise ValueError(f"class {c} has {len(members)} images, fewer than pool_size={pool_size}")
        rolled = np.roll(members[:pool_size], fold * (shift - 1))
        train.append(rolled[slot * n_per_class : (slot + 1) * n_per_class])
        test.append(rolled[pool_size - fold :])
    empty = np.empty(0, dtype=np.int64)
    return (
        np.concatenate(train).astype(np.int64) if train else empty,
        np.concatenate(test).astype(np.int64) if test else empty,
    )


def task_indices(
    labels: np.ndarray,
    n_tasks: int,
    classes_per_task: int,
    n_train_per_task: int,
    pool_size: int,
    shift: int = 1,
    slot: int = 0,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Classes, training and test indices of every task (see :func:`task_sequence`).

    Parameters
    ----------
    labels : ndarray of shape (n,), int
        Pooled labels (training images first, then test); classes are
        ``np.unique(labels)``.
    n_tasks, classes_per_task, n_train_per_task : int
        Sequence shape; task ``t`` gets the ``t``-th group of
        ``classes_per_task`` classes (ascending ids) and
        ``n_train_per_task // classes_per_task`` training images per class.
    pool_size, shift, slot : int
        As in :func:`split_class_pool`.

    Returns
    -------
    list of (classes, train_index, test_index)
        One triple of int64 arrays per task; indices point into ``labels``.

    Raises
    ------
    ValueError
        If there are too few classes, ``n_train_per_task`` is not a multiple of
        ``classes_per_task``, or :func:`split_class_pool` refuses the arguments.
    """
    n_tasks = _positive("n_tasks", n_tasks)
    classes_per_task = _positive("classes_per_task", classes_per_task)
    n_train_per_task = _positive("n_train_per_task", n_train_per_task)
    all_classes = np.unique(np.asarray(labels)).astype(np.int64)
    if n_tasks * classes_per_task > len(all_classes):
        raise ValueError(
            f"{n_tasks} tasks x {classes_per_task} classes need {n_tasks * classes_per_task} classes; "
            f"the data has {len(all_classes)}"
        )
    if n_train_per_task % classes_per_task:
        raise ValueError(
            f"n_train_per_task={n_train_per_task} must be a multiple of classes_per_task={classes_per_task} "
            "(the same number of images from every class)"
        )
    per_class = n_train_per_task // classes_per_task
    tasks = []
    for t in range(n_tasks):
        classes = all_classes[t * classes_per_task : (t + 1) * classes_per_task]
        train, test = split_class_pool(labels, classes, pool_size, per_class, shift=shift, slot=slot)
        tasks.append((classes, train, test))
    return tasks


def take_pooled(X_train: np.ndarray, X_test: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``concatenate([X_train, X_test])[index]`` without building the concatenation."""
    n_train = len(X_train)
    out = np.empty((len(index),) + X_train.shape[1:], dtype=X_train.dtype)
    in_train = index < n_train
    out[in_train] = X_train[index[in_train]]
    out[~in_train] = X_test[index[~in_train] - n_train]
    return out


def load_pooled(
    name: str, data_dir: str | os.PathLike | None = None, download: bool = False, verify: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The images of a data set of :data:`DATASETS` and their pooled labels (training first, then test).

    Returns
    -------
    X_train : ndarray of shape (n_train, 32, 32, 3), uint8
    X_test : ndarray of shape (n_test, 32, 32, 3), uint8
        Empty for "digits" and "digits-hard" (one set of images).
    labels : ndarray of shape (n_train + n_test,), int64
        The labels of ``X_train`` followed by those of ``X_test``; select
        images by these indices with :func:`take_pooled`.
    """
    if name in ("digits", "digits-hard"):
        X_train, y_train = load_digits_images() if name == "digits" else load_hard_digits_images()
        X_test, y_test = X_train[:0], y_train[:0]
    else:
        X_train, y_train, X_test, y_test = load_cifar(name, data_dir=data_dir, download=download, verify=verify)
    return X_train, X_test, np.concatenate([y_train, y_test])


def task_sequence(
    name: str,
    n_tasks: int | None = None,
    classes_per_task: int | None = None,
    n_train_per_task: int | None = None,
    shift: int = 1,
    slot: int = 0,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> list[Task]:
    """Split a data set into a sequence of class-disjoint tasks (ProgLearn's CIFAR protocol).

    Protocol (ProgLearn, CIFAR-100 10x10):

    1. The training and test images are pooled per class, in their original
       order: the class's training images first, then its test images. For
       CIFAR-100 a class has N = 600 (500 + 100), for CIFAR-10 N = 6000. For
       "digits" and "digits-hard" (one set of 1797 images, 174..183 per class) each class's pool
       is its first ``N = 6 * floor(min_count / 6) = 174`` images in
       scikit-learn's order.
    2. Each class's pooled index list is rolled by ``(N / 6) * (shift - 1)``
       (``np.roll``; CIFAR-100: ``np.roll(indices, (shift - 1) * 100)``).
    3. The first ``5N/6`` of the rolled list are the class's training pool,
       the last ``N/6`` its test set. Shift 1 rolls by 0, so its test sets are
       the official CIFAR test images; over shifts 1..6 every image is in the
       test set exactly once.
    4. A run uses, per class, the block of ``n_train_per_task / classes_per_task``
       training images at position ``slot`` of the training pool (CIFAR-100
       defaults: 50 per class, slots 0..9). The 6 shifts x slots are the runs
       averaged in ProgLearn (6 x 10 for CIFAR-100).
    5. Task ``t`` holds classes ``classes_per_task * t`` to
       ``classes_per_task * (t + 1) - 1``; labels keep their original ids.

    Parameters
    ----------
    name : {"cifar100", "cifar10", "digits", "digits-hard"}
        Data set. Defaults of (n_tasks, classes_per_task, n_train_per_task):
        cifar100 (10, 10, 500), cifar10 (5, 2, 500), digits and digits-hard
        (5, 2, 100); see :data:`DATASETS`.
    n_tasks, classes_per_task, n_train_per_task : int, optional
        Override the defaults. ``n_tasks * classes_per_task`` must not exceed
        the number of classes and ``n_train_per_task`` must be a multiple of
        ``classes_per_task``.
    shift : int, default 1
        Test fold, 1..6.
    slot : int, default 0
        Training block, ``0 .. (5N/6) // (n_train_per_task / classes_per_task) - 1``.
    data_dir, download, verify
        Passed to :func:`load_cifar`; ignored for "digits" and "digits-hard"
        (bundled, offline, 32x32 images from :func:`load_digits_images` and
        :func:`load_hard_digits_images`).

    Returns
    -------
    list of Task
        ``n_tasks`` tasks; task ``t`` has ``n_train_per_task`` training and
        ``classes_per_task * N / 6`` test images (CIFAR-100: 500 and 1000),
        uint8 NHWC images and int64 labels, grouped class by class.

    Raises
    ------
    ValueError
        On an unknown ``name`` or arguments outside the ranges above.
    FileNotFoundError, CorruptDataError
        From :func:`load_cifar`.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(DATASETS)}")
    default_tasks, default_classes, default_train = DATASETS[name]
    n_tasks = default_tasks if n_tasks is None else n_tasks
    classes_per_task = default_classes if classes_per_task is None else classes_per_task
    n_train_per_task = default_train if n_train_per_task is None else n_train_per_task
    # Check the cheap arguments before spending seconds loading data.
    if not 1 <= operator.index(shift) <= 6:
        raise ValueError(f"shift must be in 1..6; got {shift}")

    X_train, X_test, labels = load_pooled(name, data_dir, download, verify)
    min_count = int(np.unique(labels, return_counts=True)[1].min())
    if min_count < 6:
        raise ValueError(f"{name}: the smallest class has {min_count} images; the protocol needs at least 6")
    pool_size = 6 * (min_count // 6)

    tasks = []
    for t, (classes, train, test) in enumerate(
        task_indices(labels, n_tasks, classes_per_task, n_train_per_task, pool_size, shift=shift, slot=slot)
    ):
        tasks.append(
            Task(
                task_id=t,
                X_train=take_pooled(X_train, X_test, train),
                y_train=labels[train],
                X_test=take_pooled(X_train, X_test, test),
                y_test=labels[test],
                classes=classes,
            )
        )
    return tasks
