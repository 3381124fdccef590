"""The command line of the task-sequence experiment: its options and their types.

:func:`build_parser` is shared by ``proglearn-supcon run``,
``python -m proglearn_supcon.experiments.cifar_task_sequence`` and the
checkout's ``experiments/cifar_task_sequence.py``; the variants and data sets
offered are the library's own (:func:`proglearn_supcon.training.objectives.loss_names`,
:data:`proglearn_supcon.datasets.DATASETS`), so a new loss or data set
appears here without a second list to update.
"""

from __future__ import annotations

import argparse
import ast

from proglearn_supcon.datasets import DATASETS, PROTOCOLS, check_angle
from proglearn_supcon.hyperparams import HYPERPARAMS
from proglearn_supcon.runs.parallel import BACKENDS
from proglearn_supcon.training.objectives import loss_names
from proglearn_supcon.training.recipes import RECIPES

__all__ = [
    "DEFAULT_ANGLES",
    "DEFAULT_REPETITIONS",
    "build_parser",
    "parse_angles",
    "parse_int_list",
]

#: Angles (degrees) and repetitions of ``--protocol rotation`` when not given:
#: 0 to 180 degrees in steps of 15 (13 angles), 5 seeded repetitions.
DEFAULT_ANGLES = "0-180:15"
DEFAULT_REPETITIONS = 5


def parse_int_list(text: str) -> list[int]:
    """Parse "1-3,5" into [1, 2, 3, 5]."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            low, high = part.split("-", 1)
            low_i, high_i = int(low), int(high)
            if high_i < low_i:
                raise argparse.ArgumentTypeError(f"empty range {part!r}")
            values.extend(range(low_i, high_i + 1))
        else:
            values.append(int(part))
    if not values:
        raise argparse.ArgumentTypeError(f"no numbers in {text!r}")
    return sorted(set(values))


def parse_angles(text: str) -> list[int]:
    """Parse "0-180:15", "0,45,90" or "0-90:30,180" into sorted whole degrees in [0, 360].

    ``LOW-HIGH:STEP`` is ``LOW, LOW + STEP, ...`` up to ``HIGH``; ``LOW-HIGH``
    without a step is every degree. Raises ``argparse.ArgumentTypeError`` on
    anything else, e.g. an angle outside [0, 360] or a step below 1.
    """
    angles: list[int] = []
    for part in text.split(","):
        span, _, step_text = part.strip().partition(":")
        try:
            step = int(step_text) if step_text else 1
            bounds = parse_int_list(span)
            low, high = bounds[0], bounds[-1]
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(f"expected angles like '0-180:15' or '0,90', got {text!r}") from None
        if step < 1:
            raise argparse.ArgumentTypeError(f"the step of {part.strip()!r} must be at least 1 degree")
        if step_text and len(bounds) == 1:
            raise argparse.ArgumentTypeError(f"a step needs a range, as in '0-180:15'; got {part.strip()!r}")
        angles.extend(range(low, high + 1, step) if step_text else bounds)
    for angle in angles:
        try:
            check_angle(angle)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{exc} (in {text!r})") from None
    return sorted(set(angles))


def _repetitions_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of repetitions, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"no repetitions: the rotation protocol needs at least 1, got {value}")
    return value


def _int_list_arg(text: str) -> list[int]:
    try:
        return parse_int_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like '1-3,5', got {text!r}") from exc


def _param_arg(text: str) -> tuple[str, object]:
    """Parse NAME=VALUE into (name, value): a Python literal (number, bool, None) or else the string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name not in HYPERPARAMS:
        raise argparse.ArgumentTypeError(f"unknown network parameter {name!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proglearn-supcon run",
        description=(
            "Train progressive networks on a task sequence (CIFAR-100 10x10 protocol of ProgLearn, "
            "CIFAR-10, or the offline digits sequences; or ProgLearn's adversarial label-shuffle and "
            "rotation sequences, --protocol) and write one results file per (variant, shift, slot), or "
            "(variant, repetition, angle) for rotation, under --out. Finished runs are skipped on a rerun."
        ),
    )
    parser.add_argument(
        "--variant",
        nargs="+",
        choices=loss_names(),
        default=list(loss_names()),
        help="loss(es) training the transformers (default: supcon ce tcl)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="tenxten",
        help="task sequence: tenxten (ProgLearn's 10x10 protocol: shifts, slots), label-shuffle (the same "
        "sequence with the training labels of tasks 2.. permuted; task 1 evaluated after each task) or "
        "rotation (two tasks of the first classes, task 2 rotated by each --angles; repetitions instead of "
        "shifts and slots) (default: tenxten)",
    )
    parser.add_argument(
        "--angles",
        type=parse_angles,
        default=None,
        metavar="ANGLES",
        help=f"rotation angles in whole degrees 0..360, e.g. '0-180:15' or '0,45,90' (default with "
        f"--protocol rotation: {DEFAULT_ANGLES})",
    )
    parser.add_argument(
        "--repetitions",
        type=_repetitions_arg,
        default=None,
        metavar="N",
        help=f"seeded repetitions 1..N of the rotation protocol, each its own data split "
        f"(default with --protocol rotation: {DEFAULT_REPETITIONS})",
    )
    parser.add_argument(
        "--dataset",
        choices=list(DATASETS),
        default="digits-hard",
        help="task sequence (default: digits-hard, scikit-learn's digits rotated, shifted and noisy, offline)",
    )
    parser.add_argument(
        "--n-tasks", type=int, default=None, help="number of tasks (default: 10 for cifar100, 5 for the others)"
    )
    parser.add_argument(
        "--classes-per-task",
        type=int,
        default=None,
        help="classes per task (default: 10 for cifar100, 2 for the others)",
    )
    parser.add_argument(
        "--n-train-per-task",
        type=int,
        default=None,
        help="training samples per task (default: 500 for CIFAR, 100 for digits)",
    )
    parser.add_argument(
        "--shifts", type=_int_list_arg, default=[1], help="data shifts 1..6, e.g. '1-6' or '1,3' (default: 1)"
    )
    parser.add_argument(
        "--slots", type=_int_list_arg, default=[0], help="training-sample slots, e.g. '0-9' (default: 0)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs per transformer, the most under early stopping (default: the library's, 30)",
    )
    parser.add_argument(
        "--recipe",
        choices=tuple(RECIPES),
        default=None,
        help="train under a named recipe (proglearn_supcon.training.recipes): 'whitened' spells out the "
        "defaults (30 epochs, whitened first convolution, no validation split), 'early-stopping' the defaults "
        "before issue 32 (up to 100 epochs, kNN model selection), 'fixed-budget' is 60 epochs without a "
        "validation split; --epochs and --param override it "
        "(default: the library's defaults)",
    )
    parser.add_argument(
        "--param",
        type=_param_arg,
        action="append",
        metavar="NAME=VALUE",
        help="set a LifelongClassificationNetwork parameter for every run, e.g. "
        "--param lr=2e-3 --param early_stopping=loss (repeatable)",
    )
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', ...")
    parser.add_argument("--n-jobs", type=int, default=1, help="runs trained in parallel (joblib processes)")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the CIFAR data (default: $PROGLEARN_SUPCON_DATA, then ~/.cache/proglearn_supcon)",
    )
    parser.add_argument("--download", action="store_true", help="download CIFAR if it is not found (needs internet)")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="use the CIFAR files without checking them against their official MD5s (checked once per file "
        "version otherwise; the runs then record no data fingerprint)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="results folder (default: results/<dataset>, or results/<dataset>_<protocol> for the adversarial ones)",
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed; each (shift, slot) derives its own")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="loky",
        help="where runs train: joblib's local processes (loky), a Dask or a Ray cluster",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler to use with --backend dask (default: a local cluster of --n-jobs)",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="Ray cluster to use with --backend ray (default: a local one of --n-jobs)",
    )
    parser.add_argument(
        "--devices",
        type=_device_list_arg,
        default=None,
        metavar="DEV,DEV,...",
        help="e.g. cuda:0,cuda:1: runs placed round-robin, one at a time per device (overrides --device)",
    )
    parser.add_argument(
        "--threads-per-run",
        type=int,
        default=None,
        help="torch threads per run (default: the worker's cores shared by its concurrent runs)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the runs finished and still to do; train nothing, change nothing"
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="when another run holds --out, wait for it to end instead of stopping with exit status 2",
    )
    parser.add_argument(
        "--allow-mixed-recipes",
        action="store_true",
        help="let the runs of a variant in --out have different recipes (network parameters but the seed): "
        "finished runs of another recipe count as finished, and the closing summary pools them; by default "
        "such a folder is refused before anything trains",
    )
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="also record the transfer matrix, the embedding geometry of every (transformer, task) pair "
        "(encoder and projection space, test and training data) and the decomposition of each task's "
        "network accuracy in each results file (about 50 s per 10-task CIFAR run)",
    )
    return parser


def _device_list_arg(text: str) -> list[str]:
    devices = [d.strip() for d in text.split(",") if d.strip()]
    if not devices:
        raise argparse.ArgumentTypeError(f"no devices in {text!r}")
    return devices


def check_protocol_arguments(args: argparse.Namespace) -> str | None:
    """The first option that does not fit ``args.protocol``, as one line; None when they all fit.

    Fills in the rotation defaults (:data:`DEFAULT_ANGLES`,
    :data:`DEFAULT_REPETITIONS`) where ``--protocol rotation`` did not get
    ``--angles`` or ``--repetitions``. Refused: those two options with another
    protocol; ``--diagnostics`` (transfer matrix of every task pair) with the
    adversarial protocols, which evaluate task 1 only; ``--n-tasks`` with the
    rotation protocol (always two tasks) and below 2 with label shuffle.
    """
    if args.protocol != "rotation":
        given = [name for name in ("angles", "repetitions") if getattr(args, name) is not None]
        if given:
            return f"--{given[0]} is an option of --protocol rotation, not {args.protocol}"
    if args.protocol != "tenxten" and args.diagnostics:
        return f"--diagnostics needs every task evaluated; --protocol {args.protocol} evaluates task 1 only"
    if args.protocol == "rotation":
        if args.n_tasks is not None:
            return "--n-tasks does not apply to --protocol rotation (task 1 and a rotated task 2)"
        args.angles = parse_angles(DEFAULT_ANGLES) if args.angles is None else args.angles
        args.repetitions = DEFAULT_REPETITIONS if args.repetitions is None else args.repetitions
    if args.protocol == "label-shuffle" and args.n_tasks is not None and args.n_tasks < 2:
        return (
            f"--protocol label-shuffle needs at least 2 tasks (task 1 and a shuffled one); got --n-tasks {args.n_tasks}"
        )
    return None
