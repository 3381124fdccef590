"""Atomic file writes: readers see the old file or the complete new one, never half.

Results, saved models and downloaded archives are all written the same way: to
a temporary file in the destination's folder (so the final rename stays on one
file system), flushed to disk, then moved over the destination with
:func:`os.replace`, which is atomic on POSIX and Windows. On any error the
temporary file is removed and the destination is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    Parameters
    ----------
    path : path-like
        The destination. Its folder is created if missing.
    suffix : str, default ".tmp"
        Ending of the temporary file's name (it starts with ``"." + name``, so
        it is hidden and easy to recognise if a crash ever leaves it).

    Yields
    ------
    tmp : Path
        An empty file in ``path``'s folder. Write it (by name) inside the
        ``with`` block; the block may raise to abandon the write.

    Notes
    -----
    The temporary file is fsynced before the rename: without that, a crash
    shortly after could leave an empty file under the final name on file
    systems that reorder metadata and data writes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        # Gone after a successful replace; otherwise the abandoned write.
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
