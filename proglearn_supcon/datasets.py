"""Image data sets and the ProgLearn task-sequence protocol.

Loaders
-------
* :func:`load_cifar` reads CIFAR-100 or CIFAR-10 in the official "python
  version" format (optionally downloading and checking the official archive);
* :func:`load_digits_images` turns scikit-learn's bundled 8x8 digits into
  small RGB images, for quick offline runs and tests;
* :func:`load_hard_digits_images` rotates, shifts and adds noise to them
  (data set "digits-hard", the quick start's default: no task is learned
  perfectly, so the transfer efficiencies mean something).

Task sequences
--------------
:func:`task_sequence` splits a data set into a sequence of class-disjoint
tasks following ProgLearn's CIFAR 10x10 protocol; the index arithmetic lives in
the pure functions :func:`split_class_pool` and :func:`task_indices`, which
work on label arrays alone.

Images are always uint8 of shape (n, height, width, 3) (NHWC) and labels int64.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import logging
import operator
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np

__all__ = [
    "ARCHIVE_MD5",
    "DATASETS",
    "ENV_VAR",
    "EXPECTED_SIZES",
    "CorruptDataError",
    "Task",
    "load_cifar",
    "load_digits_images",
    "load_hard_digits_images",
    "resolve_data_dir",
    "split_class_pool",
    "task_indices",
    "task_sequence",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the data folder when ``data_dir`` is not given.
ENV_VAR = "PROGLEARN_SUPCON_DATA"
#: Data folder used when neither ``data_dir`` nor :data:`ENV_VAR` is set.
DEFAULT_DATA_DIR = "~/.cache/proglearn_supcon"

#: MD5 of the official archives (the values torchvision checks too).
ARCHIVE_MD5 = {
    "cifar100": "eb9058c3a382ffc7106e4002c42a8d85",
    "cifar10": "c58f30108f718f92721af3b95e74349a",
}
#: (training, test) image counts of the official files; anything else is an
#: incomplete or foreign copy and is refused rather than used partially.
EXPECTED_SIZES = {"cifar100": (50000, 10000), "cifar10": (50000, 10000)}

_ROW_BYTES = 3 * 32 * 32  # one image, row-major channel-height-width
_READ_CHUNK = 1 << 20


class CorruptDataError(ValueError):
    """A data file or archive is damaged, incomplete or not the official one."""


@dataclass(frozen=True)
class _CifarSpec:
    title: str
    folder: str
    archive: str
    url: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: bytes
    n_classes: int

    @property
    def files(self) -> tuple[str, ...]:
        return self.train_files + self.test_files


_CIFAR = {
    "cifar100": _CifarSpec(
        title="CIFAR-100",
        folder="cifar-100-python",
        archive="cifar-100-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        train_files=("train",),
        test_files=("test",),
        label_key=b"fine_labels",
        n_classes=100,
    ),
    "cifar10": _CifarSpec(
        title="CIFAR-10",
        folder="cifar-10-batches-py",
        archive="cifar-10-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_files=("test_batch",),
        label_key=b"labels",
        n_classes=10,
    ),
}

#: Data sets :func:`task_sequence` knows, with their default
#: (n_tasks, classes_per_task, n_train_per_task).
DATASETS = {
    "cifar100": (10, 10, 500),
    "cifar10": (5, 2, 500),
    "digits": (5, 2, 100),
    "digits-hard": (5, 2, 100),
}


# --------------------------------------------------------------------------- #
# Locating, downloading and extracting CIFAR
# --------------------------------------------------------------------------- #
def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The data folder to use and where that choice came from.

    Parameters
    ----------
    data_dir : path-like, optional
        Explicit folder; wins over everything else.

    Returns
    -------
    path : Path
        ``data_dir``, else ``$PROGLEARN_SUPCON_DATA``, else
        ``~/.cache/proglearn_supcon`` (user-expanded; it need not exist).
    source : str
        Human-readable origin of ``path``, for error messages.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser(), "the data_dir argument"
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return Path(from_env).expanduser(), f"the {ENV_VAR} environment variable"
    return Path(DEFAULT_DATA_DIR).expanduser(), f"the default ({DEFAULT_DATA_DIR}; {ENV_VAR} is not set)"


def _cifar_spec(name: str) -> _CifarSpec:
    try:
        return _CIFAR[name]
    except KeyError:
        raise ValueError(f"unknown CIFAR data set {name!r}; expected one of {sorted(_CIFAR)}") from None


def _missing_files(folder: Path, spec: _CifarSpec) -> list[str]:
    return [f for f in spec.files if not (folder / f).is_file()]


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_READ_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_md5(path: Path, expected: str, advice: str) -> None:
    actual = _md5(path)
    if actual != expected:
        raise CorruptDataError(
            f"{path} has MD5 {actual}, expected {expected}: the file is truncated, damaged or "
            f"not the official archive. {advice}"
        )


def _fetch(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` over HTTPS (the only function here that uses the network).

    Tests replace this module-level function to stay offline.
    """
    if not url.startswith("https://"):
        raise ValueError(f"refusing to download over a non-HTTPS URL: {url}")
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, _READ_CHUNK)


def _download(name: str, spec: _CifarSpec, archive: Path) -> None:
    """Fetch the official archive to a temporary file, check its MD5, then move it into place."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s from %s to %s", spec.title, spec.url, archive)
    fd, tmp_name = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _fetch(spec.url, tmp)
        except OSError as exc:  # URLError, timeouts, refused connections
            raise OSError(
                f"could not download {spec.title} from {spec.url}: {exc}. Check the network, or "
                f"download the archive yourself and put it in {archive.parent}"
            ) from exc
        # Checked before the rename, so a bad download never sits at the final name.
        _verify_md5(tmp, ARCHIVE_MD5[name], "The download was damaged; run again with download=True.")
        os.replace(tmp, archive)
    finally:
        tmp.unlink(missing_ok=True)


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuse members that could write outside the extraction folder."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or member.name.startswith(("/", "\\")) or ".." in path.parts:
        raise CorruptDataError(f"{archive} holds an unsafe member path {member.name!r}; refusing to extract it")
    if not (member.isfile() or member.isdir()):
        raise CorruptDataError(
            f"{archive} holds {member.name!r}, which is a link or special file; refusing to extract it"
        )


def _extract(spec: _CifarSpec, archive: Path, root: Path) -> Path:
    """Extract ``archive`` into ``root`` safely and atomically; return the extracted folder."""
    target = root / spec.folder
    if target.exists():
        # Reaching here means the folder is incomplete: do not mix old and new files.
        raise CorruptDataError(
            f"{target} exists but lacks {_missing_files(target, spec)}; delete that folder so that "
            f"{archive.name} can be extracted again, or pass the right data_dir"
        )
    logger.info("extracting %s into %s", archive, root)
    advice = f"Delete {archive} and load again with download=True, or pass the right data_dir."
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{spec.folder}.", suffix=".extract"))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member, archive)
                # The "data" filter (Python >= 3.11.4) repeats the checks above inside tarfile.
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, members=members, **extra)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CorruptDataError(f"{archive} is not a readable .tar.gz archive ({exc}). {advice}") from exc
        extracted = tmp / spec.folder
        missing = _missing_files(extracted, spec)
        if missing:
            raise CorruptDataError(f"{archive} does not contain {spec.folder}/{missing}. {advice}")
        try:
            os.replace(extracted, target)
        except OSError:
            # Another process may have extracted the same archive meanwhile.
            if _missing_files(target, spec):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _locate_cifar(name: str, data_dir: str | os.PathLike | None, download: bool) -> Path:
    """The extracted CIFAR folder, extracting or downloading the archive when needed."""
    spec = _cifar_spec(name)
    root, source = resolve_data_dir(data_dir)
    # data_dir may be the extracted folder itself or the folder holding it.
    for folder in (root, root / spec.folder):
        if folder.is_dir() and not _missing_files(folder, spec):
            return folder
    archive = root / spec.archive
    if archive.is_file():
        _verify_md5(
            archive,
            ARCHIVE_MD5[name],
            "Delete it and load again with download=True, or pass a data_dir with the right file.",
        )
        return _extract(spec, archive, root)
    if download:
        _download(name, spec, archive)  # MD5-checked before it gets the archive's name
        return _extract(spec, archive, root)
    partial = root / spec.folder
    note = f" ({partial} exists but lacks {_missing_files(partial, spec)})" if partial.is_dir() else ""
    raise FileNotFoundError(
        f"{spec.title} not found{note}. Looked in {root} (from {source}) for the extracted folder "
        f"{spec.folder!r} (files {', '.join(spec.files)}), for those files directly in {root}, and "
        f"for the archive {spec.archive!r}. To fix: pass data_dir=<folder containing {spec.folder!r} "
        f"or {spec.archive!r}>, set {ENV_VAR} to such a folder, or pass download=True to fetch "
        f"{spec.url} into {root}."
    )


# --------------------------------------------------------------------------- #
# Reading the pickles
# --------------------------------------------------------------------------- #
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays, so a foreign pickle cannot run code."""

    _ALLOWED = {
        # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(str, "latin1"):
        # harmless, and it lets re-saved copies of the official files load.
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str):  # noqa: D102 - pickle API
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a CIFAR pickle")
        if module.startswith("numpy.core."):
            # The official files name numpy.core, which numpy >= 2 renamed (with a
            # deprecation warning on import); use the new home when it exists.
            try:
                return getattr(importlib.import_module("numpy._core" + module[len("numpy.core") :]), name)
            except ImportError:
                pass
        return super().find_class(module, name)


def _read_batch(path: Path, spec: _CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR pickle as (data uint8 (n, 3072), labels int64 (n,)), checked."""
    advice = (
        f"Delete {path.parent} and load again with download=True (or from the official archive), "
        "or pass the right data_dir."
    )
    try:
        with open(path, "rb") as handle:
            batch = _ArrayUnpickler(handle, encoding="bytes").load()
    except OSError:
        raise
    except Exception as exc:  # truncated or foreign pickles fail in many ways
        raise CorruptDataError(f"could not read {path} as a CIFAR pickle ({exc!r}). {advice}") from exc
    if not isinstance(batch, dict) or b"data" not in batch or spec.label_key not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise CorruptDataError(
            f"{path} lacks b'data' or {spec.label_key!r} (found {keys}); is it a {spec.title} file? {advice}"
        )
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW_BYTES:
        shape = getattr(data, "shape", None)
        raise CorruptDataError(f"{path}: b'data' must be uint8 of shape (n, {_ROW_BYTES}); got {shape}. {advice}")
    labels = np.asarray(batch[spec.label_key])
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise CorruptDataError(
            f"{path}: {len(labels)} labels of dtype {labels.dtype} for {data.shape[0]} images. {advice}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= spec.n_classes):
        raise CorruptDataError(
            f"{path}: labels must lie in 0..{spec.n_classes - 1}; found {labels.min()}..{labels.max()}. {advice}"
        )
    return data, labels.astype(np.int64)


def _read_split(folder: Path, files: Sequence[str], spec: _CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate batches and convert rows (channel, height, width) to NHWC images."""
    batches = [_read_batch(folder / f, spec) for f in files]
    data = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


def load_cifar(
    name: str = "cifar100",
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load CIFAR-100 (fine labels) or CIFAR-10 from the official "python version" files.

    Parameters
    ----------
    name : {"cifar100", "cifar10"}
        Which data set.
    data_dir : path-like, optional
        Folder holding the extracted folder (``cifar-100-python`` or
        ``cifar-10-batches-py``), that folder itself, or a folder holding the
        official archive (``cifar-100-python.tar.gz`` / ``cifar-10-python.tar.gz``),
        which is then MD5-checked and extracted safely next to it. Defaults to
        ``$PROGLEARN_SUPCON_DATA``, else ``~/.cache/proglearn_supcon``.
    download : bool, default False
        If nothing is found, fetch the official archive over HTTPS into the
        data folder (atomically, MD5-checked). Without it the network is never
        used.

    Returns
    -------
    X_train : ndarray of shape (50000, 32, 32, 3), uint8
        Training images, NHWC, in file order.
    y_train : ndarray of shape (50000,), int64
        Fine labels (CIFAR-100, 0..99) or labels (CIFAR-10, 0..9).
    X_test : ndarray of shape (10000, 32, 32, 3), uint8
    y_test : ndarray of shape (10000,), int64

    Raises
    ------
    FileNotFoundError
        If neither the files nor the archive are found (and ``download`` is
        False); the message says where it looked and how to fix it.
    CorruptDataError
        (a ``ValueError``) If an archive fails its MD5 check or cannot be read,
        a pickle is truncated or malformed, or the image counts are not the
        official ones (:data:`EXPECTED_SIZES`); the message names the file
        and what to do.
    OSError
        If ``download`` is True and the download fails.
    """
    spec = _cifar_spec(name)
    folder = _locate_cifar(name, data_dir, download)
    X_train, y_train = _read_split(folder, spec.train_files, spec)
    X_test, y_test = _read_split(folder, spec.test_files, spec)
    expected = EXPECTED_SIZES[name]
    if (len(X_train), len(X_test)) != tuple(expected):
        raise CorruptDataError(
            f"{folder} holds {len(X_train)} training and {len(X_test)} test images; the official "
            f"{spec.title} has {expected[0]} and {expected[1]}. Delete {folder} and load again with "
            "download=True, or pass the right data_dir."
        )
    return X_train, y_train, X_test, y_test


def load_digits_images(size: int = 32, mode: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits as small RGB images (no network).

    Parameters
    ----------
    size : int, default 32
        Output height and width in pixels.
    mode : {"bilinear", "nearest"}, default "bilinear"
        Interpolation of :func:`torch.nn.functional.interpolate`.

    Returns
    -------
    X : ndarray of shape (1797, size, size, 3), uint8
        The 0..16 intensities scaled to 0..255, resized, repeated over 3
        identical channels (so CIFAR models apply unchanged).
    y : ndarray of shape (1797,), int64
        Digit labels 0..9.
    """
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    size = operator.index(size)
    if size < 1:
        raise ValueError(f"size must be a positive integer; got {size}")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest'; got {mode!r}")
    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) * (255.0 / 16.0))[:, None]
    if size != images.shape[-1]:
        align = False if mode == "bilinear" else None  # "nearest" takes no align_corners
        images = F.interpolate(images, size=(size, size), mode=mode, align_corners=align)
    gray = images[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    X = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1))
    return X, digits.target.astype(np.int64)


def load_hard_digits_images(
    max_rotation: float = 45.0,
    max_translation: float = 0.15,
    noise_std: float = 0.3,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly rotated, shifted and noisy versions of :func:`load_digits_images` (no network).

    The clean digits are easy: a small CNN classifies most pairs of them
    perfectly, so the transfer efficiencies, ratios of errors, say little. Each
    image here is rotated, translated and covered with Gaussian pixel noise
    once, with a fixed seed, so the data set is the same on every call and no
    pair of digits is trivially separable.

    Parameters
    ----------
    max_rotation : float, default 45.0
        Rotation angles are uniform in ``[-max_rotation, max_rotation]`` degrees.
    max_translation : float, default 0.15
        Horizontal and vertical offsets are uniform in
        ``[-max_translation, max_translation]`` times the image size.
    noise_std : float, default 0.3
        Standard deviation of the Gaussian noise added to intensities in
        ``[0, 1]`` (independently per pixel, the same on the 3 channels),
        before clipping back to ``[0, 1]``.
    random_state : int, default 0
        Seed of the distortions.

    Returns
    -------
    X : ndarray of shape (1797, 32, 32, 3), uint8
        Distorted digits, 3 identical channels.
    y : ndarray of shape (1797,), int64
        Digit labels 0..9, in scikit-learn's order (that of :func:`load_digits_images`).
    """
    import torch
    import torch.nn.functional as F

    for name, value in (("max_rotation", max_rotation), ("max_translation", max_translation), ("noise_std", noise_std)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    X, y = load_digits_images()
    rng = np.random.default_rng(random_state)
    n = len(y)
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))
    # affine_grid works in [-1, 1] coordinates, so an offset of 2 is the image size.
    offset = 2.0 * rng.uniform(-max_translation, max_translation, (n, 2))
    theta = np.zeros((n, 2, 3), dtype=np.float32)
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(angle), -np.sin(angle)
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(angle), np.cos(angle)
    theta[:, :, 2] = offset
    images = torch.from_numpy(X[..., 0].astype(np.float32) / 255.0)[:, None]
    grid = F.affine_grid(torch.from_numpy(theta), list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0].numpy()
    noisy = np.clip(warped + rng.normal(0.0, noise_std, warped.shape), 0.0, 1.0)
    gray = np.round(noisy * 255.0).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1)), y


# --------------------------------------------------------------------------- #
# The task-sequence protocol
# --------------------------------------------------------------------------- #
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
        raise ValueError(
            f"{n_per_class} training images per class do not fit in a training pool of {pool_size - fold}"
        )
    if not 0 <= slot < n_slots:
        raise ValueError(f"slot must be in 0..{n_slots - 1} ({n_per_class} per class, pool {pool_size - fold}); got {slot}")

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


def _take(X_train: np.ndarray, X_test: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``concatenate([X_train, X_test])[index]`` without building the concatenation."""
    n_train = len(X_train)
    out = np.empty((len(index),) + X_train.shape[1:], dtype=X_train.dtype)
    in_train = index < n_train
    out[in_train] = X_train[index[in_train]]
    out[~in_train] = X_test[index[~in_train] - n_train]
    return out


def task_sequence(
    name: str,
    n_tasks: int | None = None,
    classes_per_task: int | None = None,
    n_train_per_task: int | None = None,
    shift: int = 1,
    slot: int = 0,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
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
    data_dir, download
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

    if name in ("digits", "digits-hard"):
        X_train, y_train = load_digits_images() if name == "digits" else load_hard_digits_images()
        X_test, y_test = X_train[:0], y_train[:0]
    else:
        X_train, y_train, X_test, y_test = load_cifar(name, data_dir=data_dir, download=download)
    labels = np.concatenate([y_train, y_test])
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
                X_train=_take(X_train, X_test, train),
                y_train=labels[train],
                X_test=_take(X_train, X_test, test),
                y_test=labels[test],
                classes=classes,
            )
        )
    return tasks
