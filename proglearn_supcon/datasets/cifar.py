"""CIFAR-100 and CIFAR-10 from the official "python version" files.

:func:`load_cifar` is the entry point: it finds (or extracts, or downloads)
the files (:mod:`proglearn_supcon.datasets.cifar_files`), checks them against
their official MD5s (:mod:`proglearn_supcon.datasets.cifar_checksums`), and
reads the pickles with an unpickler that only rebuilds numpy arrays, checking
every batch's shape, dtype and labels and the image counts of each split.
"""

from __future__ import annotations

import importlib
import os
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np

from proglearn_supcon.datasets.cifar_checksums import CorruptDataError, verify_files
from proglearn_supcon.datasets.cifar_files import CifarSpec, cifar_spec, locate_cifar

__all__ = ["EXPECTED_SIZES", "load_cifar"]

#: (training, test) image counts of the official files; anything else is an
#: incomplete or foreign copy and is refused rather than used partially.
EXPECTED_SIZES = {"cifar100": (50000, 10000), "cifar10": (50000, 10000)}

_ROW_BYTES = 3 * 32 * 32  # one image, row-major channel-height-width


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


def _read_batch(path: Path, spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
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


def _read_split(folder: Path, files: Sequence[str], spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
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
    verify: bool = True,
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
    verify : bool, default True
        Check the extracted files against their official MD5s
        (:mod:`~proglearn_supcon.datasets.cifar_checksums`; once per file
        version, the result cached).

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
    DataNotFoundError
        (a ``FileNotFoundError``) If neither the files nor the archive are
        found (and ``download`` is False); the message says where it looked
        and how to fix it.
    CorruptDataError
        (a ``ValueError``) If an archive fails its MD5 check or cannot be read,
        a pickle is truncated or malformed, or the image counts are not the
        official ones (:data:`EXPECTED_SIZES`); the message names the file
        and what to do.
    OSError
        If ``download`` is True and the download fails.
    """
    spec = cifar_spec(name)
    folder = locate_cifar(name, data_dir, download)
    if verify:
        verify_files(name, folder, spec.files)
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
