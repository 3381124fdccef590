"""The one error format of every command: ``proglearn-supcon <command>: error: <one line>``.

The commands (``run``, ``summary``, ``plot``, ``compare``, ``geometry``,
``dose-response``, ``adversarial``) report a bad argument or a failure the way
argparse reports a bad option, so that a script or a person reading stderr
finds the same shape whichever command failed.
"""

from __future__ import annotations

import sys

__all__ = ["PROG", "command_error"]

#: The installed command's name.
PROG = "proglearn-supcon"


def command_error(command: str, message: object, status: int = 2) -> int:
    """Print ``proglearn-supcon <command>: error: <message>`` on one line to stderr; return ``status``.

    Parameters
    ----------
    command : str
        The subcommand, e.g. ``"run"``.
    message : object
        What went wrong (an exception or a string); line breaks become spaces.
    status : int, default=2
        The exit status to return (2: bad input, argparse's; 1: a failure
        after the input was accepted, e.g. runs that failed).
    """
    line = " ".join(str(message).split())
    print(f"{PROG} {command}: error: {line}", file=sys.stderr)
    return status
