"""Atomic file writes: readers see the old file or the complete new one, never half.

Results, saved models and downloaded archives are all written the same way: to
a temporary file in the destination's folder (so the final rename stays on one
file system), flushed to disk, then moved over the destination with
:func:`os.replace`, which is atomic on POSIX and Windows. On any error the
temporary file is removed and the destination is left as it was.

The temporary file is made by :func:`tempfile.mkstemp`, which creates it
readable by its owner only (0600); it is given the permissions of any other
new file (``0o666`` less the umask: 0644 under the usual umask 022) before it
takes the destination's name, so results and models are as readable as the
figures written beside them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "current_umask"]


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
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        finally:
            os.close(fd)
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        # Gone after a successful replace; otherwise the abandoned write.
        tmp.unlink(missing_ok=True)


def current_umask() -> int:
    """This process's umask, read without changing it where the OS allows (Linux's ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Elsewhere only by setting it: set and restore at once (a thread creating
    # a file in between would get 022, the usual value, for its umask).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
