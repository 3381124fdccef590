"""Run the benchmarks and print their tables with the machine facts.

    python -m benchmarks.run                      # a to e on what is found
    python -m benchmarks.run --only a c           # some of them
    python -m benchmarks.run --data-dir ../shared/data --baseline-ref d7cc1b9

a) training throughput against a plain fp32 loop; b) per-phase breakdown of
one task-sequence run; c) SupConLoss against a plain reference and
pytorch-metric-learning; d) a whole run against an earlier commit; e) how
far a training step and the loss are from the CPU's matmul rate.
Timings live here, never in the tests.
"""

from __future__ import annotations

import argparse
import os
import sys

from proglearn_supcon.datasets import load_cifar
from proglearn_supcon.transformers import resolve_device

from . import baseline, loss, phases, roofline, training
from .machine import machine_facts, print_facts

#: The recipe of commit d7cc1b9 (its library defaults), spelled out for the current code.
EARLIER_RECIPE = [
    arg
    for name, value in (
        ("early_stopping", "loss"),
        ("epochs", 100),
        ("patience", 20),
        ("batch_size", 128),
        ("lr", 1e-3),
        ("warmup_epochs", 0),
        ("lr_schedule", "cosine"),
        ("temperature", 0.2),
        ("projection_dim", 128),
        ("projection_hidden_dim", 512),
        ("flip_average", False),
        ("n_views", 2),
    )
    for arg in ("--param", f"{name}={value}")
]


def _cifar_found(data_dir: str | None) -> bool:
    try:
        load_cifar("cifar100", data_dir=data_dir)
    except (FileNotFoundError, ValueError):
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", nargs="+", choices=list("abcde"), default=list("abcde"), help="which benchmarks to run (default: all)"
    )
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda', ... (default: auto)")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("PROGLEARN_SUPCON_DATA"),
        help="CIFAR-100 folder for b and d (default: $PROGLEARN_SUPCON_DATA; "
        "synthetic data for b and digits for d when absent)",
    )
    parser.add_argument(
        "--variant",
        default="supcon",
        choices=("supcon", "ce", "tcl"),
        help="variant of the whole runs in b and d (default: supcon)",
    )
    parser.add_argument("--shift", type=int, default=6, help="shift of the runs in b and d (default: 6, held out)")
    parser.add_argument("--n-tasks", type=int, default=10, help="tasks of the runs in b and d (default: 10)")
    parser.add_argument(
        "--baseline-ref",
        default="d7cc1b9",
        help="git commit that d compares with (default: d7cc1b9, before the speed work)",
    )
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per configuration in a")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    device = resolve_device(args.device)
    print("machine:")
    print_facts(machine_facts(device))
    found = _cifar_found(args.data_dir)
    dataset = ["--dataset", "cifar100"] if found else ["--dataset", "digits"]
    if found and args.data_dir:
        # absolute: d runs the earlier commit's code from a temporary folder
        dataset += ["--data-dir", os.path.abspath(args.data_dir)]
    run_argv = [
        *dataset,
        "--variant",
        args.variant,
        "--shifts",
        str(args.shift),
        "--slots",
        "0",
        "--n-tasks",
        str(args.n_tasks),
        "--device",
        str(device),
    ]
    training_rows = loss_rows = None
    if "a" in args.only:
        training_rows = training.run(device, steps=args.steps)
        training.report(training_rows)
    if "c" in args.only:
        loss_rows = loss.run()
        loss.report(loss_rows, 2048, 2, 128, 100)
    if "b" in args.only:
        b_argv = (
            [*run_argv, "--quiet"] if found else [a if a != "digits" else "cifar100" for a in run_argv] + ["--quiet"]
        )
        seconds, wall, result = phases.run(b_argv, data_found=found)
        phases.report(seconds, wall, result, "CIFAR-100" if found else "synthetic 32x32 data (CIFAR-100 not found)")
    if "d" in args.only:
        rows = baseline.run(args.baseline_ref, run_argv, {"same recipe": EARLIER_RECIPE})
        what = f"{args.n_tasks}-task {args.variant} run, {'CIFAR-100' if found else 'digits'} shift {args.shift} slot 0"
        baseline.report(rows, what)
        print(
            "  (the current code runs the earlier commit's recipe: validation-loss early stopping, "
            "lr 1e-3, patience 20; b above times the new default recipe)"
        )
    if "e" in args.only:
        # e is about the CPU; a's rows serve it only when a ran there
        roofline.report(*roofline.run(training_rows if device.type == "cpu" else None, loss_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
