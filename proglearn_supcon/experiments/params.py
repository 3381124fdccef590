"""The network parameters of one run of the experiment, and their check before any run starts.

:func:`network_params` turns the command line (``--param``, ``--epochs``,
``--seed``, ...) into the estimator parameters of a run;
:func:`check_network_params` checks every run's parameters the way the
estimator will, so a bad value is one error line before any training.
"""

from __future__ import annotations

import argparse

import numpy as np

from proglearn_supcon.experiments import driver
from proglearn_supcon.hyperparams import HYPERPARAMS, check_params
from proglearn_supcon.network import LifelongClassificationNetwork
from proglearn_supcon.seeding import derive_seed
from proglearn_supcon.training.recipes import RECIPES
from proglearn_supcon.transformers import resolve_device

__all__ = ["check_network_params", "jsonable", "network_params", "recorded_network_params"]


def network_params(args: argparse.Namespace, variant: str, shift: int, slot: int) -> dict:
    """Estimator parameters of one run; variants of a (shift, slot) share the seed.

    Later entries win: ``--recipe``, then ``--epochs``, then ``--param``;
    what none of them sets is the library's default.
    """
    params = {
        "loss": variant,
        "device": args.device,
        "random_state": derive_seed(args.seed, "run", shift, slot),
        # Epoch bars only when runs are sequential: parallel workers would interleave them.
        "verbose": not args.quiet and args.n_jobs == 1,
    }
    if args.recipe is not None:
        params.update(RECIPES[args.recipe])
    if args.epochs is not None:
        params["epochs"] = args.epochs
    params.update(dict(args.param or []))
    return params


def check_network_params(specs, args: argparse.Namespace) -> str | None:
    """The first invalid network parameter of any run, as a one-line message; None when all are valid.

    Every run's parameters (``--param``, ``--epochs`` and the defaults) are
    checked against their declaration (:mod:`proglearn_supcon.hyperparams`),
    as the estimator checks them, before any run starts: a bad value must not
    start a sweep whose every run then fails in its worker.
    """
    for spec in specs:
        params = network_params(args, spec.variant, spec.shift, spec.slot)
        unknown = sorted(set(params) - set(HYPERPARAMS))
        if unknown:  # a name the estimator does not take
            return f"invalid network parameter: unknown parameter {', '.join(map(repr, unknown))}"
        try:
            check_params(params)
            if driver.is_local(args) and not args.devices:  # cluster workers have devices of their own
                resolve_device(params["device"])  # e.g. "cuda" on a machine without CUDA
        except (TypeError, ValueError) as exc:  # TypeError: e.g. torch.device(None)
            return f"invalid network parameter: {exc}"
    return None


def recorded_network_params(net: LifelongClassificationNetwork) -> dict:
    """The network parameters a results file records (``config["network_params"]``), as JSON values.

    All of ``net``'s parameters but the encoder object and the progress
    output; the experiment compares a folder's recipes with the ones it is
    asked for through this one function, so both sides are built alike.
    """
    return jsonable({k: v for k, v in net.get_params().items() if k not in ("encoder", "verbose")})


def jsonable(value):
    """``value`` with numpy scalars, tuples and unknown objects turned into JSON values (str as a last resort)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
