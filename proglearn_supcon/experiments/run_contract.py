"""The experiment's side of a results folder's contract (:mod:`proglearn_supcon.runs.folder_contract`).

Before ``proglearn-supcon run`` trains anything it compares what it was asked
to do with every finished file of ``--out``: the data settings of all of them
and the recipe of the requested variants' runs. A rerun with another
``--param``, ``--epochs``, ``--n-tasks`` or ``--dataset`` used to take the old
files for finished runs of the new settings, or to mix both in one folder;
now it is refused, naming a file and the settings that differ.

Parallelism is not part of the contract: ``--n-jobs`` and
``--threads-per-run`` change the order of floating-point sums, not what is
computed, so resuming with other values is allowed and warned about.
"""

from __future__ import annotations

import argparse

from proglearn_supcon.datasets import DATASETS, ROTATION_DEFAULTS
from proglearn_supcon.experiments.params import network_params, recorded_network_params
from proglearn_supcon.network import LifelongClassificationNetwork
from proglearn_supcon.runs.folder_contract import run_problem
from proglearn_supcon.runs.provenance import recipe_hash

__all__ = ["contract_problem", "parallelism_warning", "requested_data_settings", "requested_recipes"]


def requested_data_settings(args: argparse.Namespace) -> dict:
    """The data settings (:data:`~proglearn_supcon.runs.folder_contract.DATA_KEYS`) the runs of ``args`` will record."""
    if args.protocol == "rotation":
        # Two tasks: task 1 and its rotated copy; classes and images from the rotation defaults.
        n_tasks, (classes, n_train, _) = 2, ROTATION_DEFAULTS[args.dataset]
    else:
        n_tasks, classes, n_train = DATASETS[args.dataset]
    return {
        "dataset": args.dataset,
        "protocol": args.protocol,
        "n_tasks": n_tasks if args.n_tasks is None else args.n_tasks,
        "n_classes_per_task": classes if args.classes_per_task is None else args.classes_per_task,
        "n_train_per_task": n_train if args.n_train_per_task is None else args.n_train_per_task,
        "data_fingerprint": getattr(args, "data_fingerprint", None),
    }


def requested_recipes(specs, args: argparse.Namespace) -> dict[str, tuple[str, dict]]:
    """Per variant of ``specs``, the recipe hash and recorded network parameters its runs will have.

    Built as :func:`~proglearn_supcon.experiments.run_record.run_config`
    builds them (the seed, which differs per run, is not part of the recipe).
    """
    recipes = {}
    for spec in specs:
        if spec.variant not in recipes:
            net = LifelongClassificationNetwork(**network_params(args, spec.variant, spec.shift, spec.slot))
            params = recorded_network_params(net)
            recipes[spec.variant] = (recipe_hash(params), params)
    return recipes


def contract_problem(found, specs, args: argparse.Namespace) -> str | None:
    """Why the runs of ``specs`` cannot be made in ``args.out`` given its runs ``found``, as one line; else None."""
    return run_problem(
        found,
        requested_data_settings(args),
        requested_recipes(specs, args),
        allow_mixed_recipes=args.allow_mixed_recipes,
    )


def parallelism_warning(found, args: argparse.Namespace) -> str | None:
    """A warning line when a finished run of the folder was made with other ``--n-jobs``/``--threads-per-run``."""
    for path, run in found:
        before = {name: run.config.get(name) for name in ("n_jobs", "threads_per_run")}
        now = {"n_jobs": args.n_jobs, "threads_per_run": args.threads_per_run}
        if "n_jobs" in run.config and before != now:
            return (
                f"warning: {path} was made with --n-jobs {before['n_jobs']} --threads-per-run "
                f"{before['threads_per_run']}, these runs use --n-jobs {args.n_jobs} --threads-per-run "
                f"{args.threads_per_run}: the thread count changes the order of floating-point sums, so the "
                "new runs' arithmetic differs slightly from the old ones'"
            )
    return None
