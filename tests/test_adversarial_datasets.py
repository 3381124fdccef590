"""Tests of the adversarial task sequences (proglearn_supcon/datasets/adversarial.py): pure functions, offline data."""

from collections import Counter

import numpy as np
import pytest

from proglearn_supcon.datasets import (
    ROTATION_ZOOM,
    Task,
    check_angle,
    load_digits_images,
    rotate_images,
    rotation_indices,
    rotation_tasks,
    shuffle_labels,
    task_sequence,
)


def make_tasks(n_tasks: int = 3, per_class: int = 6) -> list[Task]:
    """Tasks of two classes each whose images are all different (image i holds the value i)."""
    tasks = []
    for t in range(n_tasks):
        classes = np.array([2 * t, 2 * t + 1])
        y = np.repeat(classes, per_class)
        X = (np.arange(len(y))[:, None, None, None] + 20 * t + np.zeros((1, 4, 4, 3))).astype(np.uint8)
        tasks.append(Task(t, X, y, X[:2], y[:2], classes))
    return tasks


# --------------------------------------------------------------------------- #
# Label shuffle
# --------------------------------------------------------------------------- #
def test_label_shuffle_keeps_images_and_classes_and_permutes_labels():
    tasks = make_tasks()
    shuffled = shuffle_labels(tasks, random_state=7)
    assert shuffled[0] is tasks[0]  # task 1 is untouched
    for before, after in zip(tasks[1:], shuffled[1:]):
        np.testing.assert_array_equal(after.X_train, before.X_train)  # the same images, in the same order
        np.testing.assert_array_equal(after.X_test, before.X_test)
        np.testing.assert_array_equal(after.y_test, before.y_test)
        np.testing.assert_array_equal(after.classes, before.classes)
        # A permutation of the labels: the class set and each class's count are kept ...
        assert Counter(after.y_train.tolist()) == Counter(before.y_train.tolist())
        assert after.y_train.dtype == before.y_train.dtype
        # ... but the image-label pairing changed.
        assert not np.array_equal(after.y_train, before.y_train)
    np.testing.assert_array_equal(tasks[1].y_train, np.repeat([2, 3], 6))  # the input is not changed


def test_label_shuffle_is_reproducible_from_the_seed():
    tasks = make_tasks(per_class=20)
    first, again, other = (shuffle_labels(tasks, seed) for seed in (3, 3, 4))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.y_train, b.y_train)
    assert any(not np.array_equal(a.y_train, b.y_train) for a, b in zip(first[1:], other[1:]))
    # Each task draws its own permutation: tasks 1 and 2 (classes 2, 3 and 4, 5) are not shuffled alike.
    assert not np.array_equal(first[1].y_train == 2, first[2].y_train == 4)


def test_the_shuffled_digits_sequence_keeps_its_images():
    plain = task_sequence("digits", n_tasks=3, shift=2, slot=1)
    shuffled = shuffle_labels(task_sequence("digits", n_tasks=3, shift=2, slot=1), random_state=5)
    for t, (a, b) in enumerate(zip(plain, shuffled)):
        np.testing.assert_array_equal(a.X_train, b.X_train)
        np.testing.assert_array_equal(a.X_test, b.X_test)
        assert Counter(a.y_train.tolist()) == Counter(b.y_train.tolist())
        assert np.array_equal(a.y_train, b.y_train) == (t == 0)


# --------------------------------------------------------------------------- #
# Rotation: the split
# --------------------------------------------------------------------------- #
def test_rotation_indices_are_disjoint_per_class_draws():
    labels = np.tile(np.arange(4), 30)  # 4 classes x 30, interleaved
    first, second, test = rotation_indices(labels, [2, 0], 8, 5, random_state=1)
    assert len(set(first) | set(second) | set(test)) == 8 + 8 + 5 + 8 + 8 + 5  # no image twice
    assert Counter(labels[first]) == Counter(labels[second]) == {2: 8, 0: 8}
    assert Counter(labels[test]) == {2: 5, 0: 5}
    assert labels[first][:8].tolist() == [2] * 8  # grouped class by class, in the order given
    assert first.dtype == second.dtype == test.dtype == np.int64
    again = rotation_indices(labels, [2, 0], 8, 5, random_state=1)
    other = rotation_indices(labels, [2, 0], 8, 5, random_state=2)
    assert all(np.array_equal(a, b) for a, b in zip((first, second, test), again))
    assert not np.array_equal(first, other[0])


@pytest.mark.parametrize(
    "n_train, n_test, match",
    [(10, 11, "needs 2 x 10 training and 11 test"), (0, 5, "n_train_per_class must be a positive"), (5, 0, "n_test")],
)
def test_rotation_indices_validation(n_train, n_test, match):
    with pytest.raises(ValueError, match=match):
        rotation_indices(np.tile(np.arange(2), 30), [0, 1], n_train, n_test, random_state=0)


def test_rotation_tasks_on_digits():
    X, y = load_digits_images()
    task1, task2 = rotation_tasks("digits", n_train_per_task=200, random_state=3)
    assert task1.task_id == 0 and task2.task_id == 1
    assert task1.classes.tolist() == task2.classes.tolist() == list(range(10))
    assert task1.X_train.shape == task2.X_train.shape == (200, 32, 32, 3)
    assert task1.X_test.shape == (300, 32, 32, 3) and len(task2.X_test) == len(task2.y_test) == 0  # 30 per class
    assert Counter(task1.y_train.tolist()) == Counter(task2.y_train.tolist()) == {c: 20 for c in range(10)}
    first, second, test = rotation_indices(y, range(10), 20, 30, random_state=3)
    np.testing.assert_array_equal(task1.X_train, X[first])
    np.testing.assert_array_equal(task2.X_train, X[second])  # not rotated here
    np.testing.assert_array_equal(task1.X_test, X[test])
    with pytest.raises(ValueError, match="multiple of classes_per_task"):
        rotation_tasks("digits", n_train_per_task=205)
    with pytest.raises(ValueError, match="unknown data set"):
        rotation_tasks("mnist")


# --------------------------------------------------------------------------- #
# Rotation: the images
# --------------------------------------------------------------------------- #
def zoom_and_crop(images: np.ndarray, zoom: float) -> np.ndarray:
    """Bilinear zoom about the centre, cropped to the same size, written out axis by axis (float64).

    Pixel ``i`` of the output takes the input at ``c + (i - c) / zoom`` with
    ``c = (size - 1) / 2`` the centre, interpolating between its two neighbours.
    """
    size = images.shape[1]
    centre = (size - 1) / 2
    where = centre + (np.arange(size) - centre) / zoom
    low = np.floor(where).astype(int)
    w = where - low
    x = images.astype(np.float64)
    rows = x[:, low] * (1 - w)[None, :, None, None] + x[:, low + 1] * w[None, :, None, None]
    return rows[:, :, low] * (1 - w)[None, None, :, None] + rows[:, :, low + 1] * w[None, None, :, None]


def test_zero_degrees_is_the_zoomed_and_cropped_original():
    images = np.random.default_rng(0).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    rotated = rotate_images(images, 0.0)
    assert rotated.dtype == np.uint8 and rotated.shape == images.shape
    # Rounded from the same bilinear values (float32 on one side, so a .5 may round either way).
    assert np.abs(rotated - zoom_and_crop(images, ROTATION_ZOOM)).max() <= 0.5 + 1e-3
    np.testing.assert_array_equal(rotate_images(images, 0.0, zoom=1.0), images)  # no zoom: the images themselves
    np.testing.assert_array_equal(rotate_images(images, 360.0), rotated)


def test_ninety_degrees_turns_the_picture_counter_clockwise():
    images = np.random.default_rng(1).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    # Without zoom, a quarter turn maps pixel centres onto pixel centres: exactly np.rot90.
    np.testing.assert_array_equal(rotate_images(images, 90.0, zoom=1.0), np.rot90(images, 1, axes=(1, 2)))
    np.testing.assert_array_equal(rotate_images(images, 180.0, zoom=1.0), images[:, ::-1, ::-1])


def test_a_pattern_in_the_top_right_lands_top_left_at_ninety_degrees():
    image = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    image[0, 8:12, 20:24] = 255  # a bright square up and to the right of the centre
    rotated = rotate_images(image, 90.0)[0, ..., 0].astype(float)
    rows, cols = np.nonzero(rotated > 127)
    # Centred coordinates (x right, y down) of the square: (+6, -6) before the
    # zoom, (+8.7, -8.7) after; a counter-clockwise quarter turn sends it to (-8.7, -8.7).
    assert len(rows) > 0
    assert np.mean(cols) - 15.5 == pytest.approx(-6 * ROTATION_ZOOM, abs=0.75)
    assert np.mean(rows) - 15.5 == pytest.approx(-6 * ROTATION_ZOOM, abs=0.75)
    assert rotated[16:, :].max() == 0 and rotated[:, 16:].max() == 0  # nothing in the other three quadrants


@pytest.mark.parametrize("angle", [-1, 360.5, float("nan"), "90", True])
def test_angles_outside_0_360_are_refused(angle):
    with pytest.raises(ValueError, match=r"angle must be a number of degrees in \[0, 360\]"):
        check_angle(angle)
    with pytest.raises(ValueError, match="angle must be"):
        rotate_images(np.zeros((1, 4, 4, 3), dtype=np.uint8), angle)


def test_rotate_images_validation():
    with pytest.raises(ValueError, match="uint8 of shape"):
        rotate_images(np.zeros((4, 4, 3), dtype=np.uint8), 10)
    with pytest.raises(ValueError, match="zoom must be a positive number"):
        rotate_images(np.zeros((1, 4, 4, 3), dtype=np.uint8), 10, zoom=0)
    assert rotate_images(np.zeros((0, 4, 4, 3), dtype=np.uint8), 10).shape == (0, 4, 4, 3)
