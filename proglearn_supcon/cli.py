"""The ``proglearn-supcon`` command installed by pip.

Subcommands (modules under :mod:`proglearn_supcon`)::

    proglearn-supcon run ...       # the task-sequence experiment (experiments.cifar_task_sequence)
    proglearn-supcon summary ...   # the table of each variant's means (experiments.summary)
    proglearn-supcon plot ...      # the figure of one variant (plotting.plot_variant)
    proglearn-supcon compare ...   # the difference figure of two variants (plotting.compare_variants)
    proglearn-supcon geometry ...  # transfer matrices and embedding geometry (plotting.plot_geometry)
    proglearn-supcon dose-response ...  # held-out knob sweep: transfer against effective rank
                                        # (experiments.dose_response)
    proglearn-supcon adversarial ...  # BTE of the label-shuffle and rotation sequences (plotting.plot_adversarial)

Each subcommand takes exactly the options of its module's command line (the
checkout's thin scripts, ``python experiments/cifar_task_sequence.py`` or
``python -m plotting.compare_variants``, take the same) and, after checking
them here, runs that module's ``main``. ``--help`` lists every option with its default. A bad argument is
reported on one line, ``proglearn-supcon <command>: error: <what>``, with exit
status 2.
"""

from __future__ import annotations

import argparse
import sys

from proglearn_supcon._version import __version__
from proglearn_supcon.experiments import cifar_task_sequence, dose_response, summary
from proglearn_supcon.plotting import compare_variants, plot_adversarial, plot_geometry, plot_variant

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommand -> (module whose ``build_parser`` and ``main`` it runs, one-line summary).
COMMANDS = {
    "run": (
        cifar_task_sequence,
        "train progressive networks over a task sequence, write the results, and summarize supcon - ce",
    ),
    "summary": (summary, "print the table of each variant's means over its runs"),
    "plot": (plot_variant, "plot the transfer and timing figures of one variant"),
    "compare": (compare_variants, "plot and summarize the differences between two variants"),
    "geometry": (plot_geometry, "plot transfer matrices and embedding geometry of two variants (--diagnostics runs)"),
    "dose-response": (
        dose_response,
        "run SupCon temperatures and CE label smoothings on held-out shift 6; fit transfer against effective rank",
    ),
    "adversarial": (
        plot_adversarial,
        "plot and summarize task 1's backward transfer in the label-shuffle or rotation sequence",
    ),
}


class _OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (no usage dump) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


class _DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: ...)`` to options whose help does not already state a default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.required
            # identity, not ==: a default of 0 is worth showing, and 0 == False
            or any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The ``proglearn-supcon`` parser: one subparser per entry of :data:`COMMANDS`.

    Each subparser inherits (``parents=``) the actions of its module's
    ``build_parser()``, so the options, types and defaults are those of the
    module's own command line.
    """
    parser = _OneLineErrorParser(
        prog="proglearn-supcon",
        description="Progressive learning with supervised contrastive transformers: experiment and figures.",
        epilog="Run 'proglearn-supcon COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_OneLineErrorParser)
    for name, (module, line) in COMMANDS.items():
        module_parser = module.build_parser()
        commands.add_parser(
            name,
            parents=[module_parser],
            add_help=False,  # the module parser's -h/--help is inherited
            help=line,
            description=module_parser.description,
            epilog=module_parser.epilog,
            formatter_class=_DefaultsHelpFormatter,
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``proglearn-supcon``; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The subcommand's exit status (0 on success, 2 on an error it reports).
        ``--help`` and usage errors raise ``SystemExit`` (0 and 2).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    # The subcommand is argv[0] (the only top-level option, --version, exits),
    # and its arguments were just checked; the module parses them again itself.
    module, _ = COMMANDS[args.command]
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
