"""Benchmark f: memory of consecutive runs in one process (as a worker trains them).

Runs the experiment's ``run_one`` ``n_runs`` times in this process (shifts
1..6 in turn, as a worker of ``--shifts 1-6`` would) and prints, after each
run, the run's own peak (its ``peak_memory_mb``), the process's peak so far
and its resident memory. The process peak is the running maximum of the runs'
own peaks: each run resets the kernel's peak (``VmHWM``, and with it
``ru_maxrss``), and between runs the process holds less than within one.
The ratio of the process peak after the last run to that after the second
says whether memory still grows run after run (it grew to 6x over 15
CIFAR-100 runs before freed memory was released between runs).

    python -m benchmarks.memory --data-dir ../shared/data --runs 10 --n-tasks 4 --epochs 2
    python -m benchmarks.memory --no-release ...   # as before the fix, for comparison
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from unittest import mock

import numpy as np

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments import run_record, sequence
from proglearn_supcon.runs.memory import current_rss_mb
from proglearn_supcon.training.objectives import loss_names

from .phases import synthetic_tasks


def run(argv: list[str], n_runs: int, data_found: bool, release: bool = True, print_rows: bool = True) -> list[dict]:
    """``n_runs`` runs of the experiment (``argv``: its options) in this process; one row per run."""
    args = exp.build_parser().parse_args(argv)
    rows, process_peak = [], 0.0
    with ExitStack() as stack:
        if not data_found:
            tasks = synthetic_tasks(args.n_tasks or 10)
            stack.enter_context(mock.patch.object(sequence, "task_sequence", lambda *a, **k: tasks))
        if not release:
            stack.enter_context(mock.patch.object(sequence, "release_freed_memory", lambda: False))
        for i in range(n_runs):
            spec = run_record.RunSpec(args.variant[0], 1 + i % 6, args.slots[0])
            start = time.perf_counter()
            result = sequence.run_one(spec, args)
            seconds = time.perf_counter() - start
            own = float(np.nanmax(result.tasks["peak_memory_mb"]))
            process_peak = max(process_peak, own)
            row = {
                "run": i + 1,
                "shift": spec.shift,
                "seconds": seconds,
                "own_peak_mb": own,
                "process_peak_mb": process_peak,
                "rss_after_mb": current_rss_mb(),
                "scope": result.config["peak_memory_scope"],
            }
            del result
            rows.append(row)
            if print_rows:
                print(
                    f"  {row['run']:>4}{row['shift']:>6}{seconds:>9.0f}{own:>10.0f}{process_peak:>10.0f}"
                    f"{row['rss_after_mb']:>10.0f}  {row['scope']}",
                    flush=True,
                )
    return rows


def header(what: str, release: bool) -> None:
    print(
        f"\nf) consecutive runs in one process: {what}"
        f"{'' if release else ' (freed memory NOT released between runs: as before the fix)'}"
    )
    print(f"  {'run':>4}{'shift':>6}{'seconds':>9}{'own MiB':>10}{'proc MiB':>10}{'RSS MiB':>10}  scope")


def report(rows: list[dict]) -> None:
    """The growth figures under the rows."""
    peaks = [r["process_peak_mb"] for r in rows]
    if len(peaks) >= 2:
        growth = [b / a - 1 for a, b in zip(peaks[1:], peaks[2:])]
        print(
            f"  process peak after run {len(peaks)} / after run 2: {peaks[-1] / peaks[1]:.3f}"
            + (f"; largest rise from one run to the next after run 2: {max(growth):.1%}" if growth else "")
        )
    if rows and rows[0]["scope"] != "run":
        print("  (this system cannot reset the peak: 'own' is the process-lifetime peak)")


def main(argv: list[str] | None = None) -> int:
    from proglearn_supcon.transformers import resolve_device

    from .machine import machine_facts, print_facts
    from .run import _cifar_found

    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="CIFAR-100 folder (synthetic 32x32 tasks when absent)")
    parser.add_argument("--runs", type=int, default=10, help="consecutive runs (default: 10)")
    parser.add_argument("--n-tasks", type=int, default=4, help="tasks per run (default: 4)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per task (default: 2)")
    parser.add_argument("--variant", default="supcon", choices=loss_names())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-release", action="store_true", help="do not release freed memory between runs")
    opts = parser.parse_args(argv)
    print("machine:")
    print_facts(machine_facts(resolve_device(opts.device)))
    found = _cifar_found(opts.data_dir)
    run_argv = [
        "--dataset",
        "cifar100",
        "--variant",
        opts.variant,
        "--n-tasks",
        str(opts.n_tasks),
        "--epochs",
        str(opts.epochs),
        "--device",
        opts.device,
        "--quiet",
    ]
    if opts.data_dir:
        run_argv += ["--data-dir", opts.data_dir]
    header(
        f"{opts.runs} x {opts.n_tasks}-task {opts.variant} runs, {opts.epochs} epochs, "
        f"{'CIFAR-100' if found else 'synthetic 32x32 data (CIFAR-100 not found)'}",
        not opts.no_release,
    )
    report(run(run_argv, opts.runs, found, release=not opts.no_release))
    return 0


if __name__ == "__main__":
    sys.exit(main())
