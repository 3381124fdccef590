"""Benchmark g: how the cost around training grows with the number of tasks T.

For each T, the classes of CIFAR-100 (synthetic 32x32 tasks where it is not
found) are split into T tasks of ``n_classes // T`` classes, each with the same
number of training and test images, so that the data per task is fixed and
only T changes. A network learns the tasks in order on a short fixed budget
(``--epochs``, no validation split, no early stopping: the question is the
cost around training) and is evaluated after each task as the experiment
does it (:mod:`proglearn_supcon.experiments.sequence`).

Reported per T: the mean seconds per task of each phase, measured exclusively
(time in a nested phase counts for the inner one only): training
(``NeuralClassificationTransformer.fit``), embedding (``transform``: the
voters' data and the test sets), voter fitting (the voters' ``fit`` and, with
a ``voter_dim``, the projection's), evaluation (everything else: the voters'
posteriors, the deciders, bookkeeping); the whole run; the time to predict
task 0's test images through all T transformers after the last task; the
run's peak memory (``VmHWM`` reset at its start, :mod:`proglearn_supcon.runs.memory`)
and the bytes the voters store. The last row of each table is the growth
exponent of every column in T: the slope of the least-squares line through
(log T, log value). ``--storage`` compares voter storage settings, each in
its own table, then as ratios to the first.

    python -m benchmarks.scaling --data-dir ../shared/data            # T = 5 10 20 50
    python -m benchmarks.scaling --storage float32 float16 float16/300
    python -m benchmarks.scaling --tasks 2 4 --n-classes 8 --n-train-per-task 40 --n-test-per-task 20  # seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from unittest import mock

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.datasets import task_sequence
from proglearn_supcon.experiments import run_record, sequence
from proglearn_supcon.reduction import PrincipalProjection
from proglearn_supcon.transformers import NeuralClassificationTransformer
from proglearn_supcon.voters import STORAGE_DTYPES, KNNClassificationVoter

from .phases import PhaseTimer, synthetic_tasks

PHASES = ("training", "embedding", "voter fitting", "evaluation")
#: Columns of a table: (key of a row, header, format); each gets a growth exponent.
COLUMNS = (
    ("training", "train s", "{:>9.3f}"),
    ("embedding", "embed s", "{:>9.3f}"),
    ("voter fitting", "voters s", "{:>9.3f}"),
    ("evaluation", "eval s", "{:>9.3f}"),
    ("run_s", "run s", "{:>9.1f}"),
    ("predict_s", "predict s", "{:>10.3f}"),
    ("peak_mb", "peak MiB", "{:>10.0f}"),
    ("voter_mb", "voter MiB", "{:>10.2f}"),
)


def storage_setting(text: str) -> tuple[str, int | None]:
    """Parse ``DTYPE`` or ``DTYPE/DIM`` (e.g. ``float16/300``) into (voter_dtype, voter_dim)."""
    dtype, _, dim = text.partition("/")
    if dtype not in STORAGE_DTYPES:
        raise argparse.ArgumentTypeError(f"voter storage must start with one of {STORAGE_DTYPES}, got {text!r}")
    if not dim:
        return dtype, None
    if not dim.isdigit() or int(dim) < 1:
        raise argparse.ArgumentTypeError(f"the voter_dim after '/' must be an integer >= 1, got {text!r}")
    return dtype, int(dim)


def setting_name(setting: tuple[str, int | None]) -> str:
    dtype, dim = setting
    return dtype if dim is None else f"{dtype}/{dim}"


def growth_exponent(task_counts, values) -> float:
    """Slope of the least-squares line through ``(log T, log value)``: ``value ~ T ** exponent``.

    Parameters
    ----------
    task_counts : sequence of int, at least two distinct
    values : sequence of float, one per task count

    Returns
    -------
    float
        NaN when a value is not finite and positive (a power law has none).

    Raises
    ------
    ValueError
        If the lengths differ or fewer than two task counts are distinct.
    """
    t, v = np.asarray(task_counts, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"one value per task count is needed; got {t.shape} task counts and {v.shape} values")
    if len(np.unique(t)) < 2 or (t <= 0).any():
        raise ValueError(f"at least two distinct positive task counts are needed; got {t.tolist()}")
    if not (np.isfinite(v).all() and (v > 0).all()):
        return float("nan")
    slope, _ = np.polyfit(np.log(t), np.log(v), 1)
    return float(slope)


def _even_subset(task, n_test: int):
    """``task`` with ``n_test`` of its test images, evenly spaced (its test set is grouped class by class)."""
    if n_test >= len(task.y_test):
        return task
    keep = np.linspace(0, len(task.y_test) - 1, n_test).round().astype(int)
    task.X_test, task.y_test = task.X_test[keep], task.y_test[keep]
    return task


def make_tasks(n_tasks: int, n_classes: int, n_train: int, n_test: int, cifar: bool, data_dir=None) -> list:
    """T tasks of ``n_classes // n_tasks`` classes, ``n_train`` training and ``n_test`` test images each."""
    classes_per_task = n_classes // n_tasks
    if classes_per_task < 2:
        raise ValueError(f"{n_classes} classes give {n_tasks} tasks fewer than 2 classes each")
    if not cifar:
        return synthetic_tasks(n_tasks, classes_per_task, n_train, n_test, seed=0)
    tasks = task_sequence(
        "cifar100", n_tasks=n_tasks, classes_per_task=classes_per_task, n_train_per_task=n_train, data_dir=data_dir
    )
    return [_even_subset(task, n_test) for task in tasks]


def stored_bytes(net: LifelongClassificationNetwork) -> int:
    """Bytes of the fit embeddings all voters of ``net`` store (projections not counted: 1 per transformer)."""
    import torch

    total = 0
    for voter in net.learner_.voters_.values():
        stored = torch.as_tensor(voter.X_fit_)
        total += stored.element_size() * stored.numel()
    return total


def run_sequence(tasks: list, params: dict, threads: int | None = None) -> dict:
    """Learn and evaluate ``tasks`` with a network of ``params``; one row of the table (see the module doc)."""
    peak = sequence.prepare_process(threads)
    net = LifelongClassificationNetwork(**params)
    record = run_record.TaskRecord.empty(len(tasks))
    timer = PhaseTimer()
    per_task = {phase: [] for phase in PHASES}

    def learn(t, task):
        sequence.train_task(net, task, t, record)
        sequence.evaluate_new_task(net, task, t, record)
        sequence.evaluate_seen_tasks(net, tasks, t, record)
        record.drop_embeddings()  # as the experiment does without --diagnostics

    start = time.perf_counter()
    with ExitStack() as stack:
        for owner, name, phase in (
            (NeuralClassificationTransformer, "fit", "training"),
            (NeuralClassificationTransformer, "transform", "embedding"),
            (KNNClassificationVoter, "fit", "voter fitting"),
            (PrincipalProjection, "fit", "voter fitting"),
        ):
            stack.enter_context(mock.patch.object(owner, name, timer.wrap(phase, getattr(owner, name))))
        for t, task in enumerate(tasks):
            before = dict(timer.seconds)
            timer.wrap("evaluation", learn)(t, task)
            for phase in PHASES:
                per_task[phase].append(timer.seconds.get(phase, 0.0) - before.get(phase, 0.0))
    run_s = time.perf_counter() - start
    start = time.perf_counter()
    net.predict_proba(tasks[0].X_test, 0)
    predict_s = time.perf_counter() - start
    return {
        "n_tasks": len(tasks),
        "classes_per_task": len(tasks[0].classes),
        **{phase: float(np.mean(seconds)) for phase, seconds in per_task.items()},
        "per_task": per_task,
        "run_s": run_s,
        "predict_s": predict_s,
        "peak_mb": peak.mb(),
        "peak_scope": peak.scope,
        "voter_mb": stored_bytes(net) / 2**20,
        "final_accuracy": float(np.mean(record.accuracy[-1])),
    }


def run(
    task_counts,
    storage,
    *,
    n_classes: int = 100,
    n_train: int = 200,
    n_test: int = 200,
    epochs: int = 1,
    device: str = "cpu",
    cifar: bool = False,
    data_dir=None,
    threads: int | None = None,
    extra_params: dict | None = None,
    print_rows: bool = True,
) -> dict:
    """Every T of ``task_counts`` for every voter ``storage`` setting; rows keyed by the setting's name.

    ``extra_params`` are further network parameters (e.g. a small ``encoder``
    in the tests).
    """
    results = {}
    for i, setting in enumerate(storage):
        dtype, dim = setting
        params = dict(
            epochs=epochs,
            validation_fraction=0.0,
            early_stopping="none",
            device=device,
            random_state=0,
            voter_dtype=dtype,
            voter_dim=dim,
            **(extra_params or {}),
        )
        if i == 0:
            # Untimed: torch's first calls (kernel selection, allocator growth)
            # take a second or two that would otherwise land in the first row.
            run_sequence(synthetic_tasks(2, 2, 16, 8, seed=1), params, threads)
        rows = []
        if print_rows:
            header(setting_name(setting))
        for n_tasks in task_counts:
            tasks = make_tasks(n_tasks, n_classes, n_train, n_test, cifar, data_dir)
            rows.append(run_sequence(tasks, params, threads))
            del tasks
            if print_rows:
                print_row(rows[-1])
        results[setting_name(setting)] = rows
        if print_rows:
            print_exponents(rows)
    return results


def header(name: str) -> None:
    print(f"\n  voters {name}: seconds per task (mean over the run), whole run, predict, memory")
    print(f"  {'T':>4}{'classes':>8}" + "".join(f"{h:>{len(f.format(0))}}" for _, h, f in COLUMNS) + f"{'acc':>7}")


def print_row(row: dict) -> None:
    cells = "".join(f.format(row[key]) for key, _, f in COLUMNS)
    print(f"  {row['n_tasks']:>4}{row['classes_per_task']:>8}{cells}{row['final_accuracy']:>7.3f}", flush=True)


def exponents(rows: list[dict]) -> dict[str, float]:
    """Growth exponent in T of every column (NaN where there are fewer than two T)."""
    counts = [row["n_tasks"] for row in rows]
    if len(set(counts)) < 2:
        return {key: float("nan") for key, _, _ in COLUMNS}
    return {key: growth_exponent(counts, [row[key] for row in rows]) for key, _, _ in COLUMNS}


def print_exponents(rows: list[dict]) -> None:
    fitted = exponents(rows)
    cells = "".join(f"{fitted[key]:>{len(f.format(0))}.2f}" for key, _, f in COLUMNS)
    print(f"  {'exponent':>12}{cells}")
    if rows and rows[0]["peak_scope"] != "run":
        print("  (this system cannot reset the peak: 'peak' is the process-lifetime peak)")


def print_ratios(results: dict) -> None:
    """Each further storage setting's voter memory, peak memory and accuracy against the first's, per T."""
    names = list(results)
    if len(names) < 2:
        return
    first = results[names[0]]
    print(f"\n  against {names[0]}: voter MiB ratio, peak MiB ratio, accuracy difference")
    for name in names[1:]:
        for base, row in zip(first, results[name]):
            print(
                f"  {name:>16} T={row['n_tasks']:<4}{row['voter_mb'] / base['voter_mb']:>8.3f}"
                f"{row['peak_mb'] / base['peak_mb']:>8.3f}{row['final_accuracy'] - base['final_accuracy']:>+9.3f}"
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[5, 10, 20, 50], help="task counts T")
    parser.add_argument("--data-dir", default=None, help="CIFAR-100 folder (synthetic 32x32 tasks when absent)")
    parser.add_argument("--n-classes", type=int, default=100, help="classes split among the T tasks (default: 100)")
    parser.add_argument("--n-train-per-task", type=int, default=200, help="training images per task (default: 200)")
    parser.add_argument("--n-test-per-task", type=int, default=200, help="test images per task (default: 200)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per transformer (default: 1)")
    parser.add_argument(
        "--storage",
        type=storage_setting,
        nargs="+",
        default=[("float32", None)],
        metavar="DTYPE[/DIM]",
        help="voter storage settings to compare, e.g. float32 float16 float16/300 (default: float32)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every row, per task, to PATH")
    return parser


def main(argv: list[str] | None = None) -> int:
    from proglearn_supcon.transformers import resolve_device

    from .machine import machine_facts, print_facts
    from .run import _cifar_found

    opts = build_parser().parse_args(argv)
    if opts.threads is not None:
        import torch

        torch.set_num_threads(opts.threads)
    print("machine:")
    print_facts(machine_facts(resolve_device(opts.device)))
    found = _cifar_found(opts.data_dir)
    source = "CIFAR-100" if found else "synthetic 32x32 data (CIFAR-100 not found)"
    print(
        f"\ng) scaling in the number of tasks: {source}, "
        f"{opts.n_classes} classes, {opts.n_train_per_task} training and {opts.n_test_per_task} test images per task, "
        f"{opts.epochs} epoch(s) per transformer, no validation"
    )
    try:
        results = run(
            opts.tasks,
            opts.storage,
            n_classes=opts.n_classes,
            n_train=opts.n_train_per_task,
            n_test=opts.n_test_per_task,
            epochs=opts.epochs,
            device=opts.device,
            cifar=found,
            data_dir=opts.data_dir,
            threads=opts.threads,
        )
    except ValueError as exc:  # e.g. too many tasks for the classes
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_ratios(results)
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump({"options": vars(opts), "results": results}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
