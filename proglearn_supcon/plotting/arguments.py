"""The command line of the figure commands: their shared options, and the main that runs one.

``proglearn-supcon plot``, ``compare``, ``geometry`` and ``adversarial`` (and
``summary``) share the options defined here: the results folder and the two
variants of a comparison, the output file, the confidence level, the decider
whose accuracies are shown and whether runs of mixed recipes may be pooled.
:func:`run_figure_command` is the main of a command that writes a figure and
its table; every error it reports is one line,
``proglearn-supcon <command>: error: <what>``, with exit status 2.
"""

from __future__ import annotations

import argparse
import warnings

from proglearn_supcon.plotting.figures import check_out_path, save_figure_and_table, write_error
from proglearn_supcon.runs.analysis import PairingWarning
from proglearn_supcon.runs.errors import command_error


def confidence_arg(text: str) -> float:
    """argparse type of ``--confidence``: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"confidence must be a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"confidence must be between 0 and 1, got {text}")
    return value


def add_pair_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of a two-variant figure: --results --a --b --out --png --confidence --allow-mixed-recipes."""
    parser.add_argument(
        "--results",
        required=True,
        metavar="DIR",
        help="results directory holding <variant>/shift<k>_slot<s>.json files",
    )
    parser.add_argument("--a", required=True, metavar="VARIANT", help="variant A (e.g. supcon)")
    parser.add_argument("--b", required=True, metavar="VARIANT", help="variant B, subtracted (e.g. ce)")
    return add_output_arguments(parser)


def add_output_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of a figure with its table: --out --png --confidence --allow-mixed-recipes."""
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="figure file; the format follows the suffix (.pdf, .png or .svg)"
    )
    parser.add_argument("--png", action="store_true", help="also write a PNG copy of the figure beside it")
    parser.add_argument(
        "--confidence", type=confidence_arg, default=0.95, help="confidence level of the intervals (default: 0.95)"
    )
    return add_mixed_recipes_argument(parser)


def add_decider_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``--decider`` option: show the runs' accuracy under another recorded decider (see :func:`apply_decider`)."""
    from proglearn_supcon.deciders import DECIDERS

    parser.add_argument(
        "--decider",
        choices=tuple(DECIDERS),
        default=None,
        help="use the runs' accuracies under this decider (recorded in every results file since the learned "
        "deciders; default: each run's own). A variant written VARIANT@DECIDER picks a decider for that "
        "variant alone, e.g. --a supcon@shrunk-em --b supcon@average compares two deciders of the same runs",
    )
    return parser


def apply_decider(args: argparse.Namespace) -> argparse.Namespace:
    """Write ``args.decider`` into the variant options as ``VARIANT@DECIDER`` (those naming none yet).

    Covers ``variant``, ``variants``, ``a`` and ``b``; ``variants=None`` (all
    variants with results) becomes the list of them, so the decider reaches
    every one. Returns ``args``.
    """
    decider = getattr(args, "decider", None)
    if decider is None:
        return args

    def named(variant):
        return variant if variant is None or "@" in variant else f"{variant}@{decider}"

    if getattr(args, "variants", "absent") is None and getattr(args, "results", None) is not None:
        from proglearn_supcon.runs.results import list_variants

        args.variants = list_variants(args.results)
    for option in ("variant", "a", "b"):
        if isinstance(getattr(args, option, None), str):
            setattr(args, option, named(getattr(args, option)))
    if isinstance(getattr(args, "variants", None), list):
        args.variants = [named(v) for v in args.variants]
    return args


def add_mixed_recipes_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``--allow-mixed-recipes`` and ``--decider`` options (see :func:`proglearn_supcon.runs.results.load_runs`)."""
    add_decider_argument(parser)
    parser.add_argument(
        "--allow-mixed-recipes",
        action="store_true",
        help="pool the runs of a variant even if their recipes (network parameters but the seed) differ; "
        "by default that is an error naming two such files",
    )
    return parser


def run_pair_figure(command: str, parser: argparse.ArgumentParser, argv, make_figure, format_summary) -> int:
    """Main of a two-variant figure command; returns the exit status.

    ``make_figure(results, a, b, confidence, allow_mixed_recipes=...) -> (fig, summary DataFrame)``;
    the figure is saved to ``--out`` (and a PNG copy with ``--png``), the
    summary beside it as ``<stem>_summary.csv`` and printed with
    ``format_summary(summary, a, b)``. Errors as :func:`run_figure_command`.
    """

    def make(args):
        fig, summary = make_figure(
            args.results, args.a, args.b, args.confidence, allow_mixed_recipes=args.allow_mixed_recipes
        )
        return fig, summary, format_summary(summary, args.a, args.b)

    return run_figure_command(command, parser, argv, make)


def run_figure_command(command: str, parser: argparse.ArgumentParser, argv, make) -> int:
    """Main of a figure-and-table command (options of :func:`add_output_arguments`); returns the exit status.

    Parameters
    ----------
    command : str
        The ``proglearn-supcon`` subcommand, named in the error line.
    parser : argparse.ArgumentParser
        The command's parser; ``argv`` is parsed with it.
    argv : list of str or None
        The arguments (``sys.argv[1:]`` when None).
    make : callable
        ``make(args) -> (fig, table DataFrame, report str)``.

    Returns
    -------
    int
        0 once the figure is saved to ``--out`` (and a PNG copy with
        ``--png``), the table beside it as ``<stem>_summary.csv`` and the
        report printed. ``FileNotFoundError`` and ``ValueError`` (missing or
        bad results), and an ``OSError`` writing the files
        (:func:`~proglearn_supcon.plotting.figures.write_error`), print one
        line (:func:`~proglearn_supcon.runs.errors.command_error`) and give 2.
    """
    args = apply_decider(parser.parse_args(argv))
    try:
        out = check_out_path(args.out)
        with warnings.catch_warnings():
            # pair_runs already printed the message to stderr; do not print it twice.
            warnings.simplefilter("ignore", PairingWarning)
            fig, table, report = make(args)
    except (FileNotFoundError, ValueError) as exc:
        return command_error(command, exc)
    try:
        written = save_figure_and_table(fig, table, out, png=args.png)
    except OSError as exc:
        return command_error(command, write_error(exc, out))
    print(report)
    for path in written:
        print(f"wrote {path}")
    return 0
