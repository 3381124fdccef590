"""CIFAR-100 and CIFAR-10 from the official "python version" files.

Finding the files (``data_dir``, ``$PROGLEARN_SUPCON_DATA`` or the default
cache folder), downloading the official archive over HTTPS with an MD5 check,
extracting it safely, and reading the pickles with an unpickler that only
rebuilds numpy arrays. :func:`load_cifar` is the entry point.
"""

from __future__ import annotations

import gzip
import importlib
import logging
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

from proglearn_supcon.datasets.cifar_checksums import CorruptDataError, file_md5, verify_files
from proglearn_supcon.fileio import atomic_path

__all__ = [
    "ARCHIVE_MD5",
    "DEFAULT_DATA_DIR",
    "ENV_VAR",
    "EXPECTED_SIZES",
    "CorruptDataError",
    "DataNotFoundError",
    "load_cifar",
    "resolve_data_dir",
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


#: How the advice of :class:`DataNotFoundError` names the options: in Python and on the command line.
_PYTHON_WORDS = {"data_dir": "data_dir=", "download": "download=True", "argument": "the data_dir argument"}
_COMMAND_LINE_WORDS = {"data_dir": "--data-dir ", "download": "--download", "argument": "--data-dir"}


class DataNotFoundError(FileNotFoundError):
    """The data files are not found; the message says where it looked and how to fix it.

    ``str(exc)`` names the Python arguments (``data_dir=``, ``download=True``);
    :meth:`command_line_message` the options of ``proglearn-supcon run``.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(template.format(**_PYTHON_WORDS))

    def command_line_message(self) -> str:
        """The message with the command line's options (``--data-dir``, ``--download``)."""
        return self.template.format(**_COMMAND_LINE_WORDS)


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


def _verify_md5(path: Path, expected: str, advice: str) -> None:
    actual = file_md5(path)
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
    logger.info("downloading %s from %s to %s", spec.title, spec.url, archive)
    with atomic_path(archive, suffix=".part") as tmp:
        try:
            _fetch(spec.url, tmp)
        except OSError as exc:  # URLError, timeouts, refused connections
            raise OSError(
                f"could not download {spec.title} from {spec.url}: {exc}. Check the network, or "
                f"download the archive yourself and put it in {archive.parent}"
            ) from exc
        # Checked before the rename, so a bad download never sits at the final name.
        _verify_md5(tmp, ARCHIVE_MD5[name], "The download was damaged; run again with download=True.")


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
    # A template: "{data_dir}" and "{download}" become the Python arguments or
    # the command line's options (DataNotFoundError); braces of paths are escaped.
    root_text, folder_text, source = (str(v).replace("{", "{{").replace("}", "}}") for v in (root, spec.folder, source))
    source = "{argument}" if data_dir is not None else source
    note = note.replace("{", "{{").replace("}", "}}")
    raise DataNotFoundError(
        f"{spec.title} not found{note}. Looked in {root_text} (from {source}) for the extracted folder "
        f"{folder_text!r} (files {', '.join(spec.files)}), for those files directly in {root_text}, and "
        f"for the archive {spec.archive!r}. To fix: pass {{data_dir}}<folder containing {folder_text!r} "
        f"or {spec.archive!r}>, set {ENV_VAR} to such a folder, or pass {{download}} to fetch "
        f"{spec.url} into {root_text}."
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
    spec = _cifar_spec(name)
    folder = _locate_cifar(name, data_dir, download)
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
