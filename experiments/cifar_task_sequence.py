"""Train progressive networks task by task and record accuracy and transfer.

For every (variant, shift, slot) a fresh :class:`LifelongClassificationNetwork`
learns the tasks in order. After each task it records the accuracy on every
task seen so far (all transformers voting) and the single-task accuracy of the
new task (its own transformer only, ``transformer_ids=[t]``: no second network
is trained), plus training time, inference times and peak memory. Each run is
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
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork, __version__
from proglearn_supcon.datasets import task_sequence
from proglearn_supcon.results import TASK_FIELDS, RunResult, run_path, write_run
from proglearn_supcon.seeding import derive_seed

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
    return params


def run_one(spec: RunSpec, args: argparse.Namespace, threads: int | None = None, position: int = 0) -> Path:
    """Train one network over the task sequence and write its results file."""
    import torch
    from tqdm.auto import tqdm

    if threads is not None:
        torch.set_num_threads(threads)
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
    # test_embeddings[s][tid]: transformer tid's embeddings of task s's test set.
    # Transformers are frozen once trained, so each pair is computed once.
    test_embeddings: list[dict] = [dict() for _ in range(n_tasks)]

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
        single_proba = net.learner_.predict_proba_from_embeddings({t: test_embeddings[t][t]}, t)
        per_task["single_task_inference_time_s"][t] = embed_time[t] + time.perf_counter() - start
        start = time.perf_counter()
        net.learner_.predict_proba_from_embeddings(test_embeddings[t], t)
        per_task["multitask_inference_time_s"][t] = sum(embed_time.values()) + time.perf_counter() - start
        per_task["single_task_accuracy"][t] = np.mean(task.classes[single_proba.argmax(1)] == task.y_test)

        # Earlier tasks' test sets through the new transformer (backward transfer).
        for s in range(t):
            test_embeddings[s][t] = net.learner_.transform(tasks[s].X_test, t)
        for s in range(t + 1):
            proba = net.learner_.predict_proba_from_embeddings(test_embeddings[s], s)
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
    )
    return write_run(args.out, run)


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
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', ...")
    parser.add_argument("--n-jobs", type=int, default=1, help="runs trained in parallel (joblib processes)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the CIFAR data (default: $PROGLEARN_SUPCON_DATA, then ~/.cache/proglearn_supcon)")
    parser.add_argument("--download", action="store_true", help="download CIFAR if it is not found (needs internet)")
    parser.add_argument("--out", default=None, help="results folder (default: results/<dataset>)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; each (shift, slot) derives its own")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out is None:
        args.out = str(Path("results") / args.dataset)
    if args.n_jobs < 1:
        print("error: --n-jobs must be at least 1", file=sys.stderr)
        return 2
    # Variants inner-most, so parallel workers finish comparable (shift, slot) pairs first.
    specs = [RunSpec(v, s, k) for s in args.shifts for k in args.slots for v in args.variant]
    todo = [spec for spec in specs if not run_path(args.out, spec.variant, spec.shift, spec.slot).exists()]
    print(f"{len(specs) - len(todo)} of {len(specs)} runs already finished in {args.out}; {len(todo)} to do")
    if not todo:
        return _report(args)
    try:
        # Loads (and validates) the data once before any training starts.
        task_sequence(args.dataset, n_tasks=args.n_tasks, classes_per_task=args.classes_per_task,
                      n_train_per_task=args.n_train_per_task, shift=todo[0].shift, slot=todo[0].slot,
                      data_dir=args.data_dir, download=args.download)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    if args.n_jobs == 1:
        paths = [run_one(spec, args) for spec in todo]
    else:
        from joblib import Parallel, delayed

        threads = max(1, (os.cpu_count() or 1) // args.n_jobs)
        paths = Parallel(n_jobs=args.n_jobs)(
            delayed(run_one)(spec, args, threads, i % args.n_jobs) for i, spec in enumerate(todo)
        )
    for path in paths:
        print(f"wrote {path}")
    print(f"{len(paths)} runs in {time.perf_counter() - started:.0f} s")
    return _report(args)


def _report(args: argparse.Namespace) -> int:
    """Print where the results are and, with supcon and ce, write and summarize their comparison."""
    from experiments.summary import summarize

    print(summarize(args.out, args.variant))
    return 0


if __name__ == "__main__":
    sys.exit(main())
