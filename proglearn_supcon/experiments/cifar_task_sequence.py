"""The ``proglearn-supcon run`` command: train progressive networks over a task sequence and write the results.

It checks the options and the results folder, plans the runs of the chosen
protocol, has the driver (:mod:`proglearn_supcon.experiments.driver`) train
those not finished yet (the engine: :mod:`proglearn_supcon.experiments.sequence`,
and :mod:`proglearn_supcon.experiments.rotation` for the rotation protocol) and
summarizes the folder. Each run is written atomically to
``<out>/<variant>/shift<s>_slot<k>.json`` (see
:mod:`proglearn_supcon.runs.results`); a rerun skips the finished runs and
moves a corrupt results file aside (``<name>.corrupt``) to redo its run.

Examples
--------
Quick start (offline, about a minute on 2 CPU cores: supcon, ce and tcl on
the noisy, rotated digits of "digits-hard", then the supcon - ce figure and
summary)::

    proglearn-supcon run          # or: python -m experiments.cifar_task_sequence

CIFAR-100 10x10, both variants, all six shifts, two runs at a time::

    proglearn-supcon run --dataset cifar100 --variant supcon ce \\
        --shifts 1-6 --data-dir ../shared/data --n-jobs 2

ProgLearn's adversarial sequences (``--protocol``; results under
``results/<dataset>_label_shuffle`` and ``results/<dataset>_rotation`` by
default, and the BTE figure of task 1 at the end,
:mod:`proglearn_supcon.plotting.plot_adversarial`): the 10x10 sequence with
the training labels of tasks 2.. shuffled, task 1 evaluated after each task
(same runs, files and resume as above); and the rotation sequence, one run per
(variant, repetition, angle), trained by :mod:`proglearn_supcon.experiments.rotation`::

    proglearn-supcon run --protocol label-shuffle --dataset cifar100 --variant supcon ce --shifts 1-5
    proglearn-supcon run --protocol rotation --dataset cifar100 --variant supcon ce \\
        --angles 0-180:15 --repetitions 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proglearn_supcon.datasets import DataNotFoundError
from proglearn_supcon.datasets.fingerprint import data_fingerprint
from proglearn_supcon.experiments import driver, rotation, sequence
from proglearn_supcon.experiments.arguments import build_parser, check_protocol_arguments
from proglearn_supcon.experiments.checkpoints import remove_checkpoint
from proglearn_supcon.experiments.params import check_network_params
from proglearn_supcon.experiments.run_checks import check_out_folder, check_run_settings
from proglearn_supcon.experiments.run_contract import contract_problem, parallelism_warning
from proglearn_supcon.experiments.run_record import RunSpec
from proglearn_supcon.runs.errors import command_error
from proglearn_supcon.runs.folder_lock import FolderLockedError, hold_folder
from proglearn_supcon.runs.results import folder_runs

#: This command's name in :data:`proglearn_supcon.cli.COMMANDS` and in its error lines.
COMMAND = "run"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``proglearn-supcon run``; returns the exit status.

    0 when every run is finished and summarized; 2 on bad input (an option,
    a results folder that holds other runs, missing data, an unreachable
    backend, a results file the summary cannot read), with one error line
    (:func:`~proglearn_supcon.runs.errors.command_error`); 1 when runs failed
    or could not be written once training started
    (:func:`~proglearn_supcon.experiments.driver.run_all`); 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    problem = check_protocol_arguments(args)  # also fills in the rotation defaults
    if problem:
        return command_error(COMMAND, problem)
    if args.out is None:
        name = args.dataset if args.protocol == "tenxten" else f"{args.dataset}_{args.protocol.replace('-', '_')}"
        args.out = str(Path("results") / name)
    if args.n_jobs < 1:
        return command_error(COMMAND, "--n-jobs must be at least 1")
    specs, units, load_data, run_function = _protocol_plan(args)
    args.data_fingerprint = data_fingerprint(
        args.dataset, verified=not args.no_verify
    )  # recorded in each run's config, with the options
    if args.list:
        return driver.list_runs(specs, args)
    problem = check_network_params(specs, args)
    if problem:
        return command_error(COMMAND, problem)
    problem = check_run_settings(specs, args) or check_out_folder(args.out, sorted({s.variant for s in specs}))
    if problem:
        return command_error(COMMAND, problem)
    try:
        # One driver per folder for the whole run: no two train the same runs
        # or write runs of other settings beside each other's.
        with hold_folder(args.out, args.wait, on_wait=lambda holder: print(f"waiting for {holder}", file=sys.stderr)):
            return _run_in_folder(args, specs, units, load_data, run_function)
    except FolderLockedError as exc:
        return command_error(COMMAND, exc)
    except KeyboardInterrupt:
        done, _ = driver.split_finished(specs, args.out, move_corrupt=False)
        print(f"interrupted; {len(done)} finished runs kept in {args.out}", file=sys.stderr)
        return 130


def _run_in_folder(args: argparse.Namespace, specs, units, load_data, run_function) -> int:
    """The part of :func:`main` that holds ``args.out``: check its runs, train the others, report."""
    done, todo = driver.split_finished(specs, args.out)
    for spec in done:  # left by a driver killed between writing the results and removing them
        remove_checkpoint(spec.path(args.out))
    problem = _other_protocol(done, args)
    if problem:
        return command_error(COMMAND, problem)
    # Every finished file of the folder, not only this sweep's: the folder is pooled as a whole.
    found = folder_runs(args.out)
    problem = contract_problem(found, specs, args)
    if problem:
        return command_error(COMMAND, problem)
    warning = parallelism_warning(found, args)
    if warning:
        print(warning, file=sys.stderr)
    print(f"{len(specs) - len(todo)} of {len(specs)} runs already finished in {args.out}; {len(todo)} to do")
    if not todo:
        return _report(args)
    try:
        # Loads (and validates) the data once before any training starts. Only
        # where the runs train: cluster workers read their own data and report it missing.
        if driver.is_local(args):
            load_data(units(todo)[0], args)
    except (FileNotFoundError, ValueError) as exc:
        # The missing-data advice in the command line's words (--data-dir, --download).
        return command_error(COMMAND, exc.command_line_message() if isinstance(exc, DataNotFoundError) else exc)
    code = driver.run_all(units(todo), len(units(specs)), args, run_function)
    return code if code else _report(args)


def _protocol_plan(args: argparse.Namespace):
    """``(specs, units, load_data, run_function)`` of ``args.protocol``.

    ``specs``: one :class:`RunSpec` per results file; ``units(specs)``: what
    the driver trains as one job (each spec, or for the rotation protocol the
    angles of a (variant, repetition), which share task 1's transformer);
    ``load_data(unit, args)`` loads and checks a unit's data; ``run_function``
    trains a unit (looked up now, so a test may have replaced it; a top-level
    function, so worker processes can unpickle it by name).
    """
    if args.protocol == "rotation":
        specs = rotation.rotation_specs(args.variant, args.repetitions, args.angles)
        return specs, rotation.rotation_units, rotation.load_rotation_tasks, rotation.run_rotation
    # Variants inner-most, so parallel workers finish comparable (shift, slot) pairs first.
    specs = [RunSpec(v, s, k, args.protocol) for s in args.shifts for k in args.slots for v in args.variant]
    return specs, list, sequence.load_tasks, sequence.run_one


def _other_protocol(done: dict, args: argparse.Namespace) -> str | None:
    """An error line if a finished results file under ``--out`` was made by another protocol; else None.

    ``done`` maps each finished spec to the run its file holds. A file of the
    same name from another sequence would otherwise count as finished and be
    skipped (the 10x10 and label-shuffle files share names).
    """
    for spec, run in done.items():
        made_by = run.protocol
        if made_by != args.protocol:
            return (
                f"{spec.path(args.out)} was made by --protocol {made_by}, not {args.protocol}; "
                "give this protocol its own --out"
            )
    return None


def _report(args: argparse.Namespace) -> int:
    """Print where the results are and, with supcon and ce, write and summarize their comparison."""
    if args.protocol == "tenxten":
        from proglearn_supcon.experiments.summary import summarize
    else:
        from proglearn_supcon.plotting.plot_adversarial import summarize

    try:
        print(summarize(args.out, args.variant, allow_mixed_recipes=args.allow_mixed_recipes))
    except ValueError as exc:  # e.g. a corrupt file of a run this command was not asked to do
        return command_error(COMMAND, exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
