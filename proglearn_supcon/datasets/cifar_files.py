"""Where the CIFAR files are, and getting them there: the data folder, the official archives, their extraction.

The data folder is ``data_dir``, else ``$PROGLEARN_SUPCON_DATA``, else the
default cache folder (:func:`resolve_data_dir`). :func:`locate_cifar` finds
the extracted files there, or extracts the official archive (MD5-checked,
safely: no member may write outside the folder), or with ``download`` fetches
it over HTTPS first; it raises :class:`DataNotFoundError` saying where it
looked and how to fix it. Reading the files is :mod:`proglearn_supcon.datasets.cifar`.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from proglearn_supcon.datasets.cifar_checksums import CorruptDataError, file_md5
from proglearn_supcon.fileio import atomic_path

__all__ = [
    "ARCHIVE_MD5",
    "DEFAULT_DATA_DIR",
    "ENV_VAR",
    "CifarSpec",
    "DataNotFoundError",
    "cifar_spec",
    "locate_cifar",
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

_READ_CHUNK = 1 << 20  # bytes per read of a download

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
class CifarSpec:
    """The official files of one CIFAR data set: archive, folder, file names, label key and class count."""

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
    "cifar100": CifarSpec(
        title="CIFAR-100",
        folder="cifar-100-python",
        archive="cifar-100-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        train_files=("train",),
        test_files=("test",),
        label_key=b"fine_labels",
        n_classes=100,
    ),
    "cifar10": CifarSpec(
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


def cifar_spec(name: str) -> CifarSpec:
    """The :class:`CifarSpec` of ``name`` (``"cifar100"`` or ``"cifar10"``); ValueError for another name."""
    try:
        return _CIFAR[name]
    except KeyError:
        raise ValueError(f"unknown CIFAR data set {name!r}; expected one of {sorted(_CIFAR)}") from None


def _missing_files(folder: Path, spec: CifarSpec) -> list[str]:
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


def _download(name: str, spec: CifarSpec, archive: Path) -> None:
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


def _extract(spec: CifarSpec, archive: Path, root: Path) -> Path:
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


def locate_cifar(name: str, data_dir: str | os.PathLike | None, download: bool) -> Path:
    """The extracted CIFAR folder, extracting or downloading the archive when needed."""
    spec = cifar_spec(name)
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
