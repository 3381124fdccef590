"""The extracted CIFAR files checked against their official MD5s, once per file version.

The downloaded archive is MD5-checked before it is extracted, but the
extracted files were not: a bit flipped on disk, a truncated copy that still
unpickles, or a foreign file of the right shape was used silently. Each file is
now checked against :data:`FILE_MD5` (the values torchvision checks too). The
check reads 160 MB, so its result is cached, keyed by the file's path, size
and modification time, in :data:`CACHE_NAME` beside the files or, where that
folder is read-only, in the user cache folder (:data:`USER_CACHE`); a file
that changes gets checked again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from proglearn_supcon.fileio import atomic_write_text

__all__ = ["CACHE_NAME", "FILE_MD5", "USER_CACHE", "CorruptDataError", "file_md5", "verify_files"]

_READ_CHUNK = 1 << 20


class CorruptDataError(ValueError):
    """A data file or archive is damaged, incomplete or not the official one."""


def file_md5(path: Path) -> str:
    """MD5 hex digest of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_READ_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: MD5 of each official extracted file, per data set.
FILE_MD5 = {
    "cifar100": {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"},
    "cifar10": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
    },
}
#: Name of the cache of checked files.
CACHE_NAME = ".proglearn_supcon_md5.json"
#: Folder of the cache when the data folder cannot be written.
USER_CACHE = "~/.cache/proglearn_supcon"


def _cache_paths(folder: Path) -> list[Path]:
    return [folder / CACHE_NAME, Path(USER_CACHE).expanduser() / CACHE_NAME]


def _read_cache(folder: Path) -> dict:
    cache = {}
    for path in reversed(_cache_paths(folder)):  # the folder's own entries win
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(entries, dict):
            cache.update(entries)
    return cache


def _write_cache(folder: Path, cache: dict) -> None:
    """Save the cache beside the files, else in the user cache; neither is needed, so errors pass silently."""
    for path in _cache_paths(folder):
        try:
            atomic_write_text(path, json.dumps(cache, indent=1, sort_keys=True))
            return
        except OSError:
            continue


def verify_files(name: str, folder: str | os.PathLike, files) -> None:
    """Check ``files`` of ``folder`` against the official MD5s of data set ``name`` (cached; see the module).

    Files without a known MD5 are not checked.

    Raises
    ------
    CorruptDataError
        Naming the first file whose MD5 differs, and what to do.
    """
    folder = Path(folder)
    known = FILE_MD5.get(name, {})
    cache = _read_cache(folder)
    changed = False
    for file in files:
        expected = known.get(file)
        if expected is None:
            continue
        path = folder / file
        stat = path.stat()
        key, value = str(path.resolve()), [stat.st_size, stat.st_mtime_ns, expected]
        if cache.get(key) == value:
            continue
        actual = file_md5(path)
        if actual != expected:
            raise CorruptDataError(
                f"{path} has MD5 {actual}, expected {expected}: the file is damaged or not the official one. "
                f"Delete {folder} and extract the official archive again (or download it again), "
                "or skip this check (--no-verify; verify=False in Python) to use it anyway"
            )
        cache[key], changed = value, True
    if changed:
        _write_cache(folder, cache)
