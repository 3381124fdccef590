"""Image data sets and the ProgLearn task-sequence protocol.

Loaders
-------
* :func:`load_cifar` (:mod:`.cifar`) reads CIFAR-100 or CIFAR-10 in the
  official "python version" format (optionally downloading and checking the
  official archive: :mod:`.cifar_files`);
* :func:`load_digits_images` (:mod:`.digits`) turns scikit-learn's bundled 8x8
  digits into small RGB images, for quick offline runs and tests;
* :func:`load_hard_digits_images` rotates, shifts and adds noise to them
  (data set "digits-hard", the quick start's default: no task is learned
  perfectly, so the transfer efficiencies mean something).

Task sequences
--------------
:func:`task_sequence` (:mod:`.protocol`) splits a data set into a sequence of
class-disjoint tasks following ProgLearn's CIFAR 10x10 protocol; the index
arithmetic lives in the pure functions :func:`split_class_pool` and
:func:`task_indices`, which work on label arrays alone.

Adversarial sequences (:mod:`.adversarial`): the 10x10 sequence with the
training labels of tasks 2.. permuted by :func:`shuffle_labels` and :func:`rotation_tasks` (two tasks of the same
classes, the second's images zoomed and rotated by :func:`rotate_images`).
:data:`PROTOCOLS` names the three sequences the experiment runs.

Images are always uint8 of shape (n, height, width, 3) (NHWC) and labels int64.
"""

from proglearn_supcon.datasets.adversarial import (
    PROTOCOLS,
    ROTATION_DEFAULTS,
    ROTATION_ZOOM,
    check_angle,
    rotate_images,
    rotation_indices,
    rotation_tasks,
    shuffle_labels,
)
from proglearn_supcon.datasets.cifar import EXPECTED_SIZES, load_cifar
from proglearn_supcon.datasets.cifar_checksums import CorruptDataError
from proglearn_supcon.datasets.cifar_files import (
    ARCHIVE_MD5,
    DEFAULT_DATA_DIR,
    ENV_VAR,
    DataNotFoundError,
    resolve_data_dir,
)
from proglearn_supcon.datasets.digits import load_digits_images, load_hard_digits_images
from proglearn_supcon.datasets.protocol import DATASETS, Task, split_class_pool, task_indices, task_sequence

__all__ = [
    "ARCHIVE_MD5",
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "ENV_VAR",
    "EXPECTED_SIZES",
    "PROTOCOLS",
    "ROTATION_DEFAULTS",
    "ROTATION_ZOOM",
    "CorruptDataError",
    "DataNotFoundError",
    "Task",
    "check_angle",
    "load_cifar",
    "load_digits_images",
    "load_hard_digits_images",
    "resolve_data_dir",
    "rotate_images",
    "rotation_indices",
    "rotation_tasks",
    "shuffle_labels",
    "split_class_pool",
    "task_indices",
    "task_sequence",
]
