"""Benchmark h: what storing the voters in 16 bits, or in fewer dimensions, costs in accuracy.

For each variant, one network learns a task sequence (by default the held-out
CIFAR-100 10x10 shift 6, slot 0, with the library defaults and the seed the
experiment gives that run: float32 voters on the full embedding) and is
evaluated after each task as the experiment does, keeping the test
embeddings. Then, for each storage setting, every voter is refitted on the
same transformers (:func:`proglearn_supcon.convert_voters.with_voter_storage`)
and every accuracy of the run (task ``j`` after task ``k``, and the
single-task ones) is recomputed from the kept test embeddings. Transformers
never change once fitted, so the differences between settings are the
storage's alone, not training noise; the first setting, when it is float32
at full width, must give back the run's own accuracies exactly, which is
checked and printed.

Reported per variant and setting: the megabytes the voters store, the mean
single-task accuracy, the final accuracy and its difference from the first
setting, the largest difference of any single accuracy of the run, FTE,
final BTE and final TE.

    python -m benchmarks.voter_storage --data-dir ../shared/data     # shift 6, supcon ce tcl
    python -m benchmarks.voter_storage --dataset digits --n-tasks 2 --epochs 1 --variants supcon  # seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.convert_voters import with_voter_storage
from proglearn_supcon.datasets import task_sequence
from proglearn_supcon.experiments import run_record, sequence
from proglearn_supcon.experiments.arguments import build_parser as run_parser
from proglearn_supcon.experiments.params import network_params
from proglearn_supcon.metrics.transfer import transfer_metrics
from proglearn_supcon.training.recipes import RECIPES

from .scaling import setting_name, storage_setting, stored_bytes

DEFAULT_STORAGE = ("float32", "float16", "bfloat16", "float16/500", "float16/300", "float16/150")


def learn(tasks: list, params: dict, quiet: bool) -> tuple[LifelongClassificationNetwork, run_record.TaskRecord, float]:
    """The network of ``params`` after ``tasks``, its record (test embeddings kept) and its seconds."""
    peak = sequence.prepare_process(None)
    net = LifelongClassificationNetwork(**params)
    start = time.perf_counter()
    record = sequence.learn_tasks(net, tasks, params["loss"], quiet, 0, peak, keep_embeddings=True)
    return net, record, time.perf_counter() - start


def _accuracy(learner, posteriors: dict, task, task_id) -> float:
    proba = learner.decide(posteriors, task_id)
    return float(np.mean(task.classes[proba.argmax(1)] == task.y_test))


def recompute(
    net: LifelongClassificationNetwork, tasks: list, record: run_record.TaskRecord
) -> tuple[np.ndarray, np.ndarray]:
    """Every accuracy of the run from the kept test embeddings, with ``net``'s voters.

    Returns ``accuracy`` (T, T), ``accuracy[k, j]`` task ``j`` after task ``k``
    (NaN for ``j > k``), and ``single`` (T,). The voters of a task are averaged
    in the order the experiment adds them (its own transformer's first, then
    the others by id), so float32 at full width reproduces it bit for bit.
    """
    learner, n_tasks = net.learner_, len(tasks)
    accuracy, single = np.full((n_tasks, n_tasks), np.nan), np.full(n_tasks, np.nan)
    for j, task in enumerate(tasks):
        embeddings = record.test_embeddings[j]
        posteriors = {tid: learner.voter_posteriors({tid: embeddings[tid]}, j)[tid] for tid in range(n_tasks)}
        single[j] = _accuracy(learner, {j: posteriors[j]}, task, j)
        for k in range(j, n_tasks):
            seen = [j, *(tid for tid in range(k + 1) if tid != j)]
            accuracy[k, j] = _accuracy(learner, {tid: posteriors[tid] for tid in seen}, task, j)
    return accuracy, single


def measure(tasks: list, params: dict, storage, quiet: bool = True) -> dict:
    """One variant: train once, then one row per storage setting (see the module docstring)."""
    net, record, train_s = learn(tasks, params, quiet)
    n_test = [len(task.y_test) for task in tasks]
    rows, reference = [], None
    for dtype, dim in storage:
        start = time.perf_counter()
        stored = with_voter_storage(net, dtype, dim)
        accuracy, single = recompute(stored, tasks, record)
        refit_s = time.perf_counter() - start
        metrics = transfer_metrics(accuracy, single, n_test=n_test)
        reference = accuracy if reference is None else reference
        rows.append(
            {
                "setting": setting_name((dtype, dim)),
                "voter_mb": stored_bytes(stored) / 2**20,
                "single_task_accuracy": float(np.mean(single)),
                "final_accuracy": metrics.final_accuracy,
                "max_abs_difference": float(np.nanmax(np.abs(accuracy - reference))),
                "fte": float(np.mean(metrics.fte)),
                "final_bte": float(np.mean(metrics.bte[-1])),
                "final_te": float(np.mean(metrics.te[-1])),
                "refit_s": refit_s,
                "accuracy": accuracy.tolist(),
            }
        )
    first = storage[0]
    reproduced = None
    if first == ("float32", None):
        reproduced = bool(np.array_equal(np.asarray(rows[0]["accuracy"]), record.accuracy, equal_nan=True))
    return {"variant": params["loss"], "train_s": train_s, "reproduces_run": reproduced, "rows": rows}


def print_variant(result: dict) -> None:
    rows = result["rows"]
    base = rows[0]
    check = {True: "yes", False: "NO", None: "not checked (first setting is not float32)"}[result["reproduces_run"]]
    print(
        f"\n  {result['variant']}: trained in {result['train_s']:.0f} s; {base['setting']} reproduces the run: {check}"
    )
    print(
        f"  {'setting':<14}{'voter MiB':>10}{'single':>8}{'final':>8}{'vs ' + base['setting']:>13}"
        f"{'max |diff|':>11}{'FTE':>7}{'BTE':>7}{'TE':>7}{'refit s':>9}"
    )
    for row in rows:
        print(
            f"  {row['setting']:<14}{row['voter_mb']:>10.2f}{row['single_task_accuracy']:>8.3f}"
            f"{row['final_accuracy']:>8.3f}{row['final_accuracy'] - base['final_accuracy']:>+13.4f}"
            f"{row['max_abs_difference']:>11.3f}{row['fte']:>7.3f}{row['final_bte']:>7.3f}{row['final_te']:>7.3f}"
            f"{row['refit_s']:>9.1f}",
            flush=True,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.voter_storage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cifar100", help="data set of the sequence (default: cifar100)")
    parser.add_argument("--data-dir", default=None, help="folder holding the data set (CIFAR-100)")
    parser.add_argument("--variants", nargs="+", default=["supcon", "ce", "tcl"], help="losses (default: all three)")
    parser.add_argument("--shift", type=int, default=6, help="shift of the sequence (default: 6, the held-out one)")
    parser.add_argument("--slot", type=int, default=0, help="slot of the sequence (default: 0)")
    parser.add_argument("--n-tasks", type=int, default=None, help="tasks (default: the data set's protocol)")
    parser.add_argument("--n-train-per-task", type=int, default=None, help="training images per task")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per transformer (default: the recipe's)")
    parser.add_argument(
        "--recipe", choices=tuple(RECIPES), default=None, help="train under a named recipe (default: the library's)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--storage",
        type=storage_setting,
        nargs="+",
        default=[storage_setting(s) for s in DEFAULT_STORAGE],
        metavar="DTYPE[/DIM]",
        help=f"voter storage settings, the first the reference (default: {' '.join(DEFAULT_STORAGE)})",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every row to PATH")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    from proglearn_supcon.transformers import resolve_device

    from .machine import machine_facts, print_facts

    opts = build_parser().parse_args(argv)
    print("machine:")
    print_facts(machine_facts(resolve_device(opts.device)))
    # The experiment's own parser, at its defaults (seed 0, one job, no --param), so
    # every option network_params reads is there; this benchmark sets the rest.
    args = run_parser().parse_args(["--quiet"])
    args.device, args.epochs, args.recipe, args.dataset = opts.device, opts.epochs, opts.recipe, opts.dataset
    try:
        tasks = task_sequence(
            opts.dataset,
            n_tasks=opts.n_tasks,
            n_train_per_task=opts.n_train_per_task,
            shift=opts.shift,
            slot=opts.slot,
            data_dir=opts.data_dir,
        )
        for variant in opts.variants:
            LifelongClassificationNetwork(**network_params(args, variant, opts.shift, opts.slot))._check_params()
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"\nh) voter storage on the same transformers: {opts.dataset}, {len(tasks)} tasks, shift {opts.shift} "
        f"slot {opts.slot}, settings {', '.join(setting_name(s) for s in opts.storage)}"
    )
    results = []
    for variant in opts.variants:
        results.append(measure(tasks, network_params(args, variant, opts.shift, opts.slot), opts.storage, opts.quiet))
        print_variant(results[-1])
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
