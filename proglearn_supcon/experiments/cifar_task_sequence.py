"""Train progressive networks task by task and record accuracy and transfer.

For every (variant, shift, slot) a fresh :class:`LifelongClassificationNetwork`
learns the tasks in order. After each task it records the accuracy on every
task seen so far (all transformers voting) and the single-task accuracy of the
new task (its own transformer only, ``transformer_ids=[t]``: no second network
is trained), plus training time, inference times and peak memory. With
``--diagnostics`` it also records, from the test embeddings it already has, the
transfer matrix and the embedding geometry of every (transformer, task) pair
(:mod:`proglearn_supcon.geometry`). Each run is
written atomically to ``<out>/<variant>/shift<s>_slot<k>.json`` (see
:mod:`proglearn_supcon.results`); a rerun skips the finished runs.

Examples
--------
Quick start (offline, about a minute on 2 CPU cores: supcon, ce and tcl on
the noisy, rotated digits of "digits-hard", then the supcon - ce figure and
summary)::

    python -m experiments.cifar_task_sequence

CIFAR-100 10x10, both variants, all six shifts, two runs at a time::

    python -m experiments.cifar_task_sequence --dataset cifar100 --variant supcon ce \\
        --shifts 1-6 --data-dir ../shared/data --n-jobs 2
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork, __version__
from proglearn_supcon.allocator import retain_freed_memory
from proglearn_supcon.datasets import task_sequence
from proglearn_supcon.geometry import GEOMETRY_METRICS, embedding_geometry, transfer_matrix
from proglearn_supcon.parallel import BACKENDS
from proglearn_supcon.results import TASK_FIELDS, Diagnostics, RunResult, run_path
from proglearn_supcon.seeding import derive_seed

from proglearn_supcon.experiments import driver

VARIANTS = ("supcon", "ce", "tcl")
DATASETS = ("cifar100", "cifar10", "digits", "digits-hard")
#: Epochs per transformer when --epochs is not given, where the library
#: default (100) is not used: the quick-start sequence keeps to about a minute.
DEFAULT_EPOCHS = {"digits-hard": 8}


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


def _int_list_arg(text: str) -> list[int]:
    try:
        return parse_int_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like '1-3,5', got {text!r}") from exc


@dataclass(frozen=True)
class RunSpec:
    """One run: a variant on one shift and slot of a task sequence."""

    variant: str
    shift: int
    slot: int


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (plus peak CUDA memory when used)."""
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss_kb / 1024 if sys.platform != "darwin" else rss_kb / 2**20
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rss_mb += torch.cuda.max_memory_allocated() / 2**20
    except ImportError:  # pragma: no cover
        pass
    return float(rss_mb)


def network_params(args: argparse.Namespace, variant: str, shift: int, slot: int) -> dict:
    """Estimator parameters of one run; variants of a (shift, slot) share the seed."""
    params = {
        "loss": variant,
        "device": args.device,
        "random_state": derive_seed(args.seed, "run", shift, slot),
        # Epoch bars only when runs are sequential: parallel workers would interleave them.
        "verbose": not args.quiet and args.n_jobs == 1,
    }
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS.get(args.dataset)
    if epochs is not None:
        params["epochs"] = epochs
    params.update(dict(args.param or []))
    return params


def _param_arg(text: str) -> tuple[str, object]:
    """Parse NAME=VALUE into (name, value): a Python literal (number, bool, None) or else the string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name not in LifelongClassificationNetwork._get_param_names():
        raise argparse.ArgumentTypeError(f"unknown network parameter {name!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name, value


def run_one(spec: RunSpec, args: argparse.Namespace, threads: int | None = None, position: int = 0) -> RunResult:
    """Train one network over the task sequence and return its results (the driver writes them)."""
    import torch
    from tqdm.auto import tqdm

    if threads is not None:
        torch.set_num_threads(threads)
    # Training frees and reallocates the same large buffers every step; without
    # this each one is page-faulted back in (1.5x slower steps in Dask workers).
    retain_freed_memory()
    tasks = task_sequence(
        args.dataset,
        n_tasks=args.n_tasks,
        classes_per_task=args.classes_per_task,
        n_train_per_task=args.n_train_per_task,
        shift=spec.shift,
        slot=spec.slot,
        data_dir=args.data_dir,
        download=args.download,
    )
    params = network_params(args, spec.variant, spec.shift, spec.slot)
    net = LifelongClassificationNetwork(**params)
    n_tasks = len(tasks)
    accuracy = np.full((n_tasks, n_tasks), np.nan)
    per_task = {name: np.full(n_tasks, np.nan) for name in TASK_FIELDS}
    # test_embeddings[s][tid]: transformer tid's embeddings of task s's test set,
    # test_posteriors[s][tid]: its voter's posteriors there. Transformers and
    # voters are frozen once fitted, so each pair is computed once.
    test_embeddings: list[dict] = [dict() for _ in range(n_tasks)]
    test_posteriors: list[dict] = [dict() for _ in range(n_tasks)]

    label = f"{spec.variant} shift {spec.shift} slot {spec.slot}"
    bar = tqdm(tasks, desc=label, position=position, disable=args.quiet, unit="task")
    for t, task in enumerate(bar):
        start = time.perf_counter()
        net.add_task(task.X_train, task.y_train, task_id=t)
        per_task["train_time_s"][t] = time.perf_counter() - start

        # The new task's test set through every transformer, timed: this is
        # what single-task and multitask inference cost for this task.
        embed_time = {}
        for tid in range(t + 1):
            start = time.perf_counter()
            test_embeddings[t][tid] = net.learner_.transform(task.X_test, tid)
            embed_time[tid] = time.perf_counter() - start
        start = time.perf_counter()
        test_posteriors[t] = net.learner_.voter_posteriors({t: test_embeddings[t][t]}, t)
        single_proba = net.learner_.decide(test_posteriors[t], t)
        per_task["single_task_inference_time_s"][t] = embed_time[t] + time.perf_counter() - start
        start = time.perf_counter()
        others = {tid: emb for tid, emb in test_embeddings[t].items() if tid != t}
        if others:
            test_posteriors[t].update(net.learner_.voter_posteriors(others, t))
        net.learner_.decide(test_posteriors[t], t)
        per_task["multitask_inference_time_s"][t] = (
            per_task["single_task_inference_time_s"][t]
            + sum(embed_time[tid] for tid in others)
            + time.perf_counter() - start
        )
        per_task["single_task_accuracy"][t] = np.mean(task.classes[single_proba.argmax(1)] == task.y_test)
        transformer = net.learner_.transformers_[t]
        per_task["n_epochs_run"][t] = transformer.n_epochs_run_
        per_task["best_epoch"][t] = transformer.best_epoch_
        per_task["val_accuracy"][t] = _best_val_accuracy(transformer)

        # Earlier tasks' test sets through the new transformer (backward transfer).
        for s in range(t):
            test_embeddings[s][t] = net.learner_.transform(tasks[s].X_test, t)
            test_posteriors[s].update(net.learner_.voter_posteriors({t: test_embeddings[s][t]}, s))
        for s in range(t + 1):
            proba = net.learner_.decide(test_posteriors[s], s)
            accuracy[t, s] = np.mean(tasks[s].classes[proba.argmax(1)] == tasks[s].y_test)
        per_task["peak_memory_mb"][t] = peak_memory_mb()
        bar.set_postfix(acc=f"{np.nanmean(accuracy[t, : t + 1]):.3f}", single=f"{per_task['single_task_accuracy'][t]:.3f}")

    config = {
        **{k: v for k, v in vars(args).items() if k not in ("variant", "shifts", "slots", "func")},
        "variant": spec.variant,
        "shift": spec.shift,
        "slot": spec.slot,
        "network_params": {k: v for k, v in net.get_params().items() if k not in ("encoder", "verbose")},
        "n_train_per_task": int(len(tasks[0].y_train)),
        "n_test_per_task": int(len(tasks[0].y_test)),
        "torch_threads": torch.get_num_threads(),
        "device_name": _device_name(net),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_version": torch.__version__,
    }
    run = RunResult(
        variant=spec.variant,
        dataset=args.dataset,
        shift=spec.shift,
        slot=spec.slot,
        accuracy=accuracy,
        tasks=per_task,
        config=_jsonable(config),
        library_version=__version__,
        diagnostics=run_diagnostics(test_embeddings, test_posteriors, tasks) if args.diagnostics else None,
    )
    return run


def _best_val_accuracy(transformer) -> float:
    """Validation kNN accuracy of the kept epoch (NaN when nothing was validated)."""
    history = transformer.history_
    if transformer.best_epoch_ not in history["epoch"]:
        return float("nan")
    return float(history["val_accuracy"][history["epoch"].index(transformer.best_epoch_)])


def run_diagnostics(test_embeddings: list[dict], test_posteriors: list[dict], tasks) -> Diagnostics:
    """Transfer matrix and geometry of every transformer's embedding of every task's test set.

    Uses only what the run already has: ``test_embeddings[j][i]`` (transformer
    ``i``'s embeddings of task ``j``'s test set) and ``test_posteriors[j][i]``
    (the posteriors there of voter ``(i, j)``, fitted on task ``j``'s data; for
    ``i == j`` on the voter split only, exactly as for the single-task
    accuracy); nothing is retrained, re-embedded or re-voted. About 0.2 s per
    pair for 1000 2000-d test embeddings on one core: 20 s for a 10-task run.
    """
    labels = [task.y_test for task in tasks]
    n_tasks = len(tasks)
    pairs = [[embedding_geometry(test_embeddings[j][i], labels[j]) for j in range(n_tasks)] for i in range(n_tasks)]
    geometry = {name: np.array([[pair[name] for pair in row] for row in pairs]) for name in GEOMETRY_METRICS}
    matrix = transfer_matrix(test_posteriors, [task.classes for task in tasks], labels)
    return Diagnostics(matrix, geometry)


def _device_name(net: LifelongClassificationNetwork) -> str:
    import torch

    transformer = next(iter(net.learner_.transformers_.values()))
    device = next(transformer.encoder_.parameters()).device
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.cifar_task_sequence",
        description=(
            "Train progressive networks on a task sequence (CIFAR-100 10x10 protocol of ProgLearn, "
            "CIFAR-10, or the offline digits sequences) and write one results file per "
            "(variant, shift, slot) under --out. Finished runs are skipped on a rerun."
        ),
    )
    parser.add_argument("--variant", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="loss(es) training the transformers (default: supcon ce tcl)")
    parser.add_argument("--dataset", choices=DATASETS, default="digits-hard",
                        help="task sequence (default: digits-hard, scikit-learn's digits rotated, shifted "
                             "and noisy, offline)")
    parser.add_argument("--n-tasks", type=int, default=None,
                        help="number of tasks (default: 10 for cifar100, 5 for the others)")
    parser.add_argument("--classes-per-task", type=int, default=None,
                        help="classes per task (default: 10 for cifar100, 2 for the others)")
    parser.add_argument("--n-train-per-task", type=int, default=None,
                        help="training samples per task (default: 500 for CIFAR, 100 for digits)")
    parser.add_argument("--shifts", type=_int_list_arg, default=[1],
                        help="data shifts 1..6, e.g. '1-6' or '1,3' (default: 1)")
    parser.add_argument("--slots", type=_int_list_arg, default=[0],
                        help="training-sample slots, e.g. '0-9' (default: 0)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="maximum epochs per transformer (default: 8 for digits-hard, else the library "
                             "default, 100)")
    parser.add_argument("--param", type=_param_arg, action="append", metavar="NAME=VALUE",
                        help="set a LifelongClassificationNetwork parameter for every run, e.g. "
                             "--param lr=2e-3 --param early_stopping=loss (repeatable)")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', ...")
    parser.add_argument("--n-jobs", type=int, default=1, help="runs trained in parallel (joblib processes)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the CIFAR data (default: $PROGLEARN_SUPCON_DATA, then ~/.cache/proglearn_supcon)")
    parser.add_argument("--download", action="store_true", help="download CIFAR if it is not found (needs internet)")
    parser.add_argument("--out", default=None, help="results folder (default: results/<dataset>)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; each (shift, slot) derives its own")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--backend", choices=BACKENDS, default="loky",
                        help="where runs train: joblib's local processes (loky), a Dask or a Ray cluster")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler to use with --backend dask (default: a local cluster of --n-jobs)")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="Ray cluster to use with --backend ray (default: a local one of --n-jobs)")
    parser.add_argument("--devices", type=_device_list_arg, default=None, metavar="DEV,DEV,...",
                        help="e.g. cuda:0,cuda:1: runs placed round-robin, one at a time per device (overrides --device)")
    parser.add_argument("--threads-per-run", type=int, default=None,
                        help="torch threads per run (default: the worker's cores shared by its concurrent runs)")
    parser.add_argument("--list", action="store_true", help="print the runs finished and still to do, train nothing")
    parser.add_argument("--diagnostics", action="store_true",
                        help="also record the transfer matrix and the embedding geometry of every "
                             "(transformer, task) pair in each results file (about 20 s per 10-task CIFAR run)")
    return parser


def _device_list_arg(text: str) -> list[str]:
    devices = [d.strip() for d in text.split(",") if d.strip()]
    if not devices:
        raise argparse.ArgumentTypeError(f"no devices in {text!r}")
    return devices


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out is None:
        args.out = str(Path("results") / args.dataset)
    if args.n_jobs < 1:
        print("error: --n-jobs must be at least 1", file=sys.stderr)
        return 2
    # Variants inner-most, so parallel workers finish comparable (shift, slot) pairs first.
    specs = [RunSpec(v, s, k) for s in args.shifts for k in args.slots for v in args.variant]
    if args.list:
        return driver.list_runs(specs, args)
    todo = [spec for spec in specs if not run_path(args.out, spec.variant, spec.shift, spec.slot).exists()]
    print(f"{len(specs) - len(todo)} of {len(specs)} runs already finished in {args.out}; {len(todo)} to do")
    if not todo:
        return _report(args)
    try:
        # Loads (and validates) the data once before any training starts. Only
        # where the runs train: cluster workers read their own data and report it missing.
        if driver.is_local(args):
            task_sequence(args.dataset, n_tasks=args.n_tasks, classes_per_task=args.classes_per_task,
                          n_train_per_task=args.n_train_per_task, shift=todo[0].shift, slot=todo[0].slot,
                          data_dir=args.data_dir, download=args.download)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    code = driver.run_all(todo, len(specs), args)
    return code if code else _report(args)


def _report(args: argparse.Namespace) -> int:
    """Print where the results are and, with supcon and ce, write and summarize their comparison."""
    from proglearn_supcon.experiments.summary import summarize

    print(summarize(args.out, args.variant))
    return 0


if __name__ == "__main__":
    sys.exit(main())
