"""One writer per results folder: an advisory lock held by ``proglearn-supcon run`` for its whole life.

Two drivers on one folder used to train the same runs twice, or one silently
replaced the other's files with runs of other settings. :func:`hold_folder`
takes an exclusive :func:`fcntl.flock` on ``<folder>/.lock`` and writes the
holder's process id, host and start time into it, so that a second driver can
say who holds the folder. The lock dies with its process (a killed driver
leaves no stale lock); the file itself stays, since removing it could let two
drivers lock two different files of the same name.

``flock`` is advisory and local: a folder on a shared (network) file system
may not see the lock of a driver on another machine, so such a folder should
have one driver at a time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "FolderLockedError", "hold_folder"]

#: Name of the lock file inside a results folder.
LOCK_NAME = ".lock"


class FolderLockedError(RuntimeError):
    """Another process holds the results folder; ``holder`` is what it wrote into the lock file."""

    def __init__(self, folder: str | os.PathLike, holder: str) -> None:
        self.folder = str(folder)
        self.holder = holder
        super().__init__(
            f"{folder} is in use by another run ({holder or 'holder unknown'}); wait for it to end, "
            "pass --wait to start when it does, or give this run another --out"
        )


@contextlib.contextmanager
def hold_folder(folder: str | os.PathLike, wait: bool = False, on_wait=None) -> Iterator[Path]:
    """Hold ``folder`` (which must exist) for the ``with`` block; yields the lock file.

    Parameters
    ----------
    folder : path-like
        The results folder.
    wait : bool, default False
        When another process holds it, wait until it ends instead of raising.
    on_wait : callable, optional
        Called with the holder's description before waiting.

    Raises
    ------
    FolderLockedError
        If another process holds the folder and ``wait`` is False.
    """
    import fcntl

    path = Path(folder) / LOCK_NAME
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            if not wait:
                raise FolderLockedError(folder, holder) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n")
        handle.flush()
        yield path  # closing the file at the end of the block releases the lock
