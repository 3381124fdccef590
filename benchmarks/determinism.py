"""Benchmark j: same seed, machine and threads give the same numbers; what ``deterministic`` costs.

Each run is a fresh process (so thread scheduling may differ between them):
``LifelongClassificationNetwork(loss=..., epochs=..., random_state=0, precision=..., deterministic=...)``
learns the first ``--n-tasks`` tasks of CIFAR-100 10x10 (shift 1, slot 0) at
``--threads`` threads; it prints the accuracy of task 0 after the last task,
the best epoch of each transformer, an MD5 of task 0's ``predict_proba`` on
its test set and the wall time. Every setting runs twice; the report says
whether the two hashes agree, and the wall-time ratio of
``deterministic=True`` to ``False`` measured side by side (interleaved).

    python -m benchmarks.determinism --data-dir ../shared/data            # 2 tasks, 12 epochs
    python -m benchmarks.determinism --data-dir ../shared/data --n-tasks 10 --epochs 100 --settings auto:1 auto:0
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

import torch

from .machine import machine_facts, print_facts

_RUN = textwrap.dedent(
    """
    import hashlib, json, sys, time
    import numpy as np, torch
    torch.set_num_threads(int(sys.argv[1]))
    from proglearn_supcon import LifelongClassificationNetwork
    from proglearn_supcon.datasets import task_sequence
    loss, epochs, precision, deterministic, n_tasks, data_dir = sys.argv[2:8]
    tasks = task_sequence("cifar100", n_tasks=int(n_tasks), shift=1, slot=0, data_dir=data_dir)
    net = LifelongClassificationNetwork(loss=loss, epochs=int(epochs), random_state=0, precision=precision,
                                        deterministic=deterministic == "1")
    start = time.perf_counter()
    for t, task in enumerate(tasks):
        net.add_task(task.X_train, task.y_train, task_id=t)
    proba = net.predict_proba(tasks[0].X_test, 0)
    wall = time.perf_counter() - start
    accuracy = float(np.mean(tasks[0].classes[proba.argmax(1)] == tasks[0].y_test))
    epochs = [int(tr.best_epoch_) for tr in net.learner_.transformers_.values()]
    print(json.dumps({"accuracy": accuracy, "best_epochs": epochs, "md5": hashlib.md5(proba.tobytes()).hexdigest(),
                      "wall_s": wall}))
    """
)


def run_once(args: argparse.Namespace, precision: str, deterministic: str) -> dict:
    command = [sys.executable, "-c", _RUN, str(args.threads), args.loss, str(args.epochs), precision, deterministic]
    command += [str(args.n_tasks), args.data_dir]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.determinism", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--loss", default="supcon")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--n-tasks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["auto:1", "fp32:1", "auto:0", "fp32:0"],
        metavar="PRECISION:DETERMINISTIC",
        help="settings to run twice each, e.g. auto:1 (precision auto, deterministic=True)",
    )
    args = parser.parse_args(argv)
    print("benchmark j: repeatability and the cost of deterministic=True")
    print_facts(machine_facts(torch.device("cpu")))
    print(f"  runs       {args.loss}, {args.n_tasks} tasks, {args.epochs} epochs, {args.threads} threads, 2 each")
    results: dict[str, list[dict]] = {s: [] for s in args.settings}
    for _ in range(2):  # interleaved, so that a change in the machine's load hits every setting alike
        for setting in args.settings:
            precision, deterministic = setting.split(":")
            results[setting].append(run_once(args, precision, deterministic))
    print("| precision | deterministic | run 1 | run 2 | same hash | wall s (mean) |")
    print("|---|---|---|---|---|---|")
    for setting, (a, b) in results.items():
        precision, deterministic = setting.split(":")
        same = "yes" if a["md5"] == b["md5"] else "no"
        runs = [f"{r['accuracy']:.4f} (epochs {r['best_epochs']})" for r in (a, b)]
        wall = (a["wall_s"] + b["wall_s"]) / 2
        print(f"| {precision} | {deterministic == '1'} | {runs[0]} | {runs[1]} | {same} | {wall:.1f} |")
    for precision in dict.fromkeys(s.split(":")[0] for s in args.settings):
        on, off = results.get(f"{precision}:1"), results.get(f"{precision}:0")
        if on and off:
            ratio = sum(r["wall_s"] for r in on) / sum(r["wall_s"] for r in off)
            print(f"  {precision}: wall time deterministic=True / False = {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
