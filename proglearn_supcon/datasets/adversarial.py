"""ProgLearn's adversarial task sequences: label-shuffled tasks and rotated tasks.

Two sequences built to test backward transfer when the new tasks are of no
use to the old one (Vogelstein et al., ProgLearn):

* **label shuffle** (:func:`shuffle_labels`): the 10x10 sequence of
  :func:`~proglearn_supcon.datasets.task_sequence` (same shifts and slots,
  ``shuffle_labels(task_sequence(...), seed)``) in which every task after the first has its
  training labels permuted among its training images by a seeded permutation.
  Each task keeps its images and its classes; only the image-label pairing is
  random, so the later transformers learn nothing about task 1's classes.
* **rotation** (:func:`rotation_indices`, :func:`rotation_tasks`,
  :func:`rotate_images`): the first ``classes_per_task`` classes of a data set
  (CIFAR-100 classes 0-9), training and test images pooled; per class a
  seeded draw gives task 1 its training images, task 2 a different set of the
  same size and the test set the rest of the draw. Task 2's images are zoomed
  by :data:`ROTATION_ZOOM`, rotated by an angle and centre-cropped back to
  their size; the test set (task 1's) is not rotated.

:data:`PROTOCOLS` names the sequences the experiment runs: ``"tenxten"`` (the
10x10 protocol of :mod:`.protocol`), ``"label-shuffle"`` and ``"rotation"``.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import os
from numbers import Real

import numpy as np

from proglearn_supcon.datasets.protocol import Task, _positive, load_pooled, take_pooled
from proglearn_supcon.seeding import derive_seed

__all__ = [
    "PROTOCOLS",
    "ROTATION_DEFAULTS",
    "ROTATION_ZOOM",
    "check_angle",
    "rotate_images",
    "rotation_indices",
    "rotation_tasks",
    "shuffle_labels",
]

#: Task sequences of the experiment: the 10x10 protocol and the two adversarial ones.
PROTOCOLS = ("tenxten", "label-shuffle", "rotation")
#: Zoom of the rotated images (ProgLearn's 1.45): above sqrt(2), so the centre
#: crop of an image rotated by any angle holds no corner from outside it.
ROTATION_ZOOM = 1.45
#: Per data set, the rotation protocol's default (classes, training images per
#: task, test images per class). CIFAR: ProgLearn's 250 per class for each of
#: the two tasks and 100 per class for the test set; the digits have 174-183
#: images per class, so 70 + 70 + 30.
ROTATION_DEFAULTS = {
    "cifar100": (10, 2500, 100),
    "cifar10": (10, 2500, 100),
    "digits": (10, 700, 30),
    "digits-hard": (10, 700, 30),
}


# --------------------------------------------------------------------------- #
# Label shuffle
# --------------------------------------------------------------------------- #
def shuffle_labels(tasks: list[Task], random_state: int) -> list[Task]:
    """The tasks with the training labels of every task but the first permuted.

    Task ``t >= 1`` gets ``y_train[permutation]`` with a permutation drawn
    from ``derive_seed(random_state, "label-shuffle", t)``: its images, test
    set and classes are unchanged, and every class keeps its number of
    training labels, but which image carries which label is random. Task 0 is
    returned as it is.

    Parameters
    ----------
    tasks : list of Task
        A sequence, e.g. from :func:`~proglearn_supcon.datasets.task_sequence`.
    random_state : int
        Seed; the same seed gives the same permutations.

    Returns
    -------
    list of Task
        New :class:`Task` objects (the input is not changed); ``X_train`` is
        shared with the input, ``y_train`` of tasks ``t >= 1`` is a new int64
        array of the same shape.
    """
    shuffled = [tasks[0]] if tasks else []
    for task in tasks[1:]:
        rng = np.random.default_rng(derive_seed(random_state, "label-shuffle", task.task_id))
        shuffled.append(dataclasses.replace(task, y_train=task.y_train[rng.permutation(len(task.y_train))]))
    return shuffled


# --------------------------------------------------------------------------- #
# Rotation
# --------------------------------------------------------------------------- #
def check_angle(angle) -> float:
    """``angle`` as a float; ``ValueError`` unless it is a real number of degrees in [0, 360]."""
    if not isinstance(angle, Real) or isinstance(angle, bool) or not (math.isfinite(angle) and 0 <= angle <= 360):
        raise ValueError(f"angle must be a number of degrees in [0, 360]; got {angle!r}")
    return float(angle)


def rotation_indices(
    labels: np.ndarray, classes, n_train_per_class: int, n_test_per_class: int, random_state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Task 1's training images, task 2's and the test set, drawn per class.

    For each class ``c`` (in the order given), its indices ``labels == c`` are
    permuted with ``np.random.default_rng(random_state)`` (one generator for
    all classes, drawn in order); the first ``n_train_per_class`` go to task 1,
    the next ``n_train_per_class`` to task 2 and the next ``n_test_per_class``
    to the test set, so the three never share an image.

    Parameters
    ----------
    labels : ndarray of shape (n,), int
        Labels of the pooled images.
    classes : sequence of int
        The classes to draw from.
    n_train_per_class, n_test_per_class : int
        Images per class of each task and of the test set.
    random_state : int
        Seed of the draw.

    Returns
    -------
    task1, task2, test : ndarray of int64
        Indices into ``labels``, grouped class by class; the first two of
        length ``len(classes) * n_train_per_class``, the last of
        ``len(classes) * n_test_per_class``.

    Raises
    ------
    ValueError
        If a count is not a positive integer, or a class has fewer than
        ``2 * n_train_per_class + n_test_per_class`` images.
    """
    labels = np.asarray(labels)
    n_train = _positive("n_train_per_class", n_train_per_class)
    n_test = _positive("n_test_per_class", n_test_per_class)
    rng = np.random.default_rng(random_state)
    parts: tuple[list, list, list] = ([], [], [])
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < 2 * n_train + n_test:
            raise ValueError(
                f"class {c} has {len(members)} images; the rotation protocol needs 2 x {n_train} training "
                f"and {n_test} test images per class"
            )
        drawn = rng.permutation(members)
        for part, (start, stop) in zip(
            parts, ((0, n_train), (n_train, 2 * n_train), (2 * n_train, 2 * n_train + n_test))
        ):
            part.append(drawn[start:stop])
    empty = np.empty(0, dtype=np.int64)
    return tuple(np.concatenate(part).astype(np.int64) if part else empty for part in parts)


def rotate_images(images: np.ndarray, angle: float, zoom: float = ROTATION_ZOOM) -> np.ndarray:
    """Zoom images about their centre, rotate them counter-clockwise by ``angle`` and crop to their size.

    One bilinear resampling of the whole batch (torch's ``affine_grid`` and
    ``grid_sample``, ``align_corners=False``): output pixel ``p`` (centred
    coordinates, x right, y down) takes the input at ``R(-angle) p / zoom``.
    At 0 degrees that is the centre ``1 / zoom`` of each image enlarged to the
    full size; a positive angle turns the picture counter-clockwise as it is
    displayed (rows down), as ``np.rot90`` does for 90 degrees. With
    ``zoom >= sqrt(2)`` no output pixel comes from outside the input; elsewhere
    the border pixels are repeated. ProgLearn zooms (cubic spline), rotates
    and crops in three steps; one step here interpolates once.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C), uint8
    angle : float
        Degrees, in [0, 360].
    zoom : float, default ROTATION_ZOOM
        Magnification, > 0.

    Returns
    -------
    ndarray of shape (n, H, W, C), uint8
        Rounded to the nearest integer.

    Raises
    ------
    ValueError
        If ``images`` is not a 4-D uint8 array, ``angle`` is outside [0, 360]
        or ``zoom`` is not a positive number.
    """
    import torch
    import torch.nn.functional as F

    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 of shape (n, H, W, C); got {images.dtype} of shape {images.shape}")
    radians = math.radians(check_angle(angle))
    if not isinstance(zoom, Real) or isinstance(zoom, bool) or not (math.isfinite(zoom) and zoom > 0):
        raise ValueError(f"zoom must be a positive number; got {zoom!r}")
    if len(images) == 0:
        return images.copy()
    cos, sin = math.cos(radians) / zoom, math.sin(radians) / zoom
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32)
    # affine_grid maps output to input coordinates in [-1, 1] (x right, y down);
    # the same inverse rotation for every image of the batch.
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=torch.float32).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    warped = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return np.ascontiguousarray(warped.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())


def rotation_tasks(
    name: str,
    classes_per_task: int | None = None,
    n_train_per_task: int | None = None,
    n_test_per_class: int | None = None,
    random_state: int = 0,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> tuple[Task, Task]:
    """Task 1 and the unrotated task 2 of the rotation protocol.

    The first ``classes_per_task`` classes of ``name`` (ascending ids: CIFAR-100
    classes 0-9), training and test images pooled, split per class by
    :func:`rotation_indices`. Rotate task 2 for an angle with
    ``dataclasses.replace(task2, X_train=rotate_images(task2.X_train, angle))``.

    Parameters
    ----------
    name : {"cifar100", "cifar10", "digits", "digits-hard"}
        Data set; defaults of (classes_per_task, n_train_per_task, test images
        per class) in :data:`ROTATION_DEFAULTS`.
    classes_per_task, n_train_per_task, n_test_per_class : int, optional
        Override the defaults; ``n_train_per_task`` must be a multiple of
        ``classes_per_task``.
    random_state : int, default 0
        Seed of the split (one per repetition).
    data_dir, download, verify
        Passed to :func:`~proglearn_supcon.datasets.load_cifar`; ignored for the digits.

    Returns
    -------
    task1 : Task
        ``task_id`` 0: training images and labels, and the test set of the protocol.
    task2 : Task
        ``task_id`` 1: the other training images (not rotated) and their labels;
        no test set (``X_test`` and ``y_test`` are empty).

    Raises
    ------
    ValueError
        On an unknown ``name``, too few classes or images, or a
        ``n_train_per_task`` that is not a multiple of ``classes_per_task``.
    FileNotFoundError, CorruptDataError
        From :func:`~proglearn_supcon.datasets.load_cifar`.
    """
    if name not in ROTATION_DEFAULTS:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(ROTATION_DEFAULTS)}")
    default_classes, default_train, default_test = ROTATION_DEFAULTS[name]
    classes_per_task = _positive("classes_per_task", default_classes if classes_per_task is None else classes_per_task)
    n_train_per_task = _positive("n_train_per_task", default_train if n_train_per_task is None else n_train_per_task)
    n_test = default_test if n_test_per_class is None else n_test_per_class
    if n_train_per_task % classes_per_task:
        raise ValueError(
            f"n_train_per_task={n_train_per_task} must be a multiple of classes_per_task={classes_per_task} "
            "(the same number of images from every class)"
        )
    X_train, X_test, labels = load_pooled(name, data_dir, download, verify)
    all_classes = np.unique(labels).astype(np.int64)
    if classes_per_task > len(all_classes):
        raise ValueError(f"classes_per_task={classes_per_task} exceeds the {len(all_classes)} classes of {name}")
    classes = all_classes[:classes_per_task]
    first, second, test = rotation_indices(
        labels, classes, n_train_per_task // classes_per_task, n_test, operator.index(random_state)
    )
    return (
        Task(
            0,
            take_pooled(X_train, X_test, first),
            labels[first],
            take_pooled(X_train, X_test, test),
            labels[test],
            classes,
        ),
        Task(1, take_pooled(X_train, X_test, second), labels[second], X_train[:0], labels[:0], classes),
    )
