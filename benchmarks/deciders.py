"""Benchmark i: what the learned deciders cost, against the kNN voters every run already pays for.

A task sequence's voters are built at the real sizes (random embeddings:
the cost of a kNN does not depend on what the embedding learned), task by
task as a network adds them: task ``t``'s own voter on its voter split,
every earlier transformer's voter on all of task ``t``'s data, and the new
transformer's voter on every earlier task. After each task, as in a run:

* baseline: every new voter's posteriors of its task's test set (what the
  experiment computes for its accuracies, and a user's ``predict`` pays);
* deciders: the new voters' leave-one-out posteriors, and every learned
  decider refitted for every task that gained a voter (the experiment fits
  all of them; a network alone fits its own one).

The network's default decider is fitted first at each step, as a network
does, so it pays for its EM; the other shrunk-EM deciders run the same EM on
the same points and get its weights from the cache
(:func:`~proglearn_supcon.mixture_weights.em_weights_on_subsets_cached`),
as they do in an experiment.

Printed: seconds of each, per task and in all, and the ratio to the
baseline; with ``--runs DIR``, also the ratio to the mean wall time of the
results files there (runs of the same protocol on the same machine), and
the share of their wall time that the runs themselves recorded for their
decider (``decider_time_s``, in files written since it was recorded): the
figure measured where it is paid, under the run's own load. ``--threads``
sets torch's threads (a run given one core by ``--n-jobs`` has one).

    python -m benchmarks.deciders                                   # 10x10: 10 tasks of 500, 1000 test, 2000-d
    python -m benchmarks.deciders --n-tasks 50 --n-train 1000 --n-test 200 --dim 300 \
        --voter-dtype float16 --n-classes 2                         # the 50-task run
"""

from __future__ import annotations

import argparse
import glob
import json
import time

import numpy as np
import torch

from proglearn_supcon.deciders import DECIDERS
from proglearn_supcon.hyperparams import HYPERPARAMS
from proglearn_supcon.task_deciders import TaskDeciders
from proglearn_supcon.voters import KNNClassificationVoter

from .machine import machine_facts, print_facts

#: The deciders a run fits (all but the average, which has nothing to fit), the network's default first.
LEARNED = sorted(
    (name for name in DECIDERS if name != "average"), key=lambda name: name != HYPERPARAMS["decider"].default
)


class _Task:
    """What TaskDeciders reads of a task (as :class:`proglearn_supcon.learner.TaskData`)."""

    def __init__(self, y: np.ndarray, classes: np.ndarray, voter_indices: np.ndarray) -> None:
        self.y, self.classes, self.voter_indices = y, classes, voter_indices


def simulate(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, float]:
    """Seconds spent on test posteriors (baseline), leave-one-out posteriors and decider fits."""
    n_voter = args.n_train - int(round(0.67 * args.n_train))
    classes = np.arange(args.n_classes)
    voters, tasks, deciders = {}, {}, TaskDeciders()
    seconds = {"test posteriors": 0.0, "leave-one-out": 0.0, **{f"fits: {name}": 0.0 for name in LEARNED}}

    def voter(n_fit: int) -> KNNClassificationVoter:
        X = rng.normal(size=(n_fit, args.dim)).astype(np.float32)
        v = KNNClassificationVoter(classes=classes, storage_dtype=args.voter_dtype)
        return v.fit(X, rng.integers(0, args.n_classes, n_fit))

    test = rng.normal(size=(args.n_test, args.dim)).astype(np.float32)
    for t in range(args.n_tasks):
        y = rng.integers(0, args.n_classes, args.n_train)
        tasks[t] = _Task(y, classes, np.sort(rng.choice(args.n_train, n_voter, replace=False)))
        new = {(t, t): voter(n_voter)}
        new.update({(tid, t): voter(args.n_train) for tid in range(t)})
        new.update({(t, s): voter(args.n_train) for s in range(t)})
        voters.update(new)
        start = time.perf_counter()
        for v in new.values():
            v.predict_proba(test)
        seconds["test posteriors"] += time.perf_counter() - start
        start = time.perf_counter()
        for tid, task in new:
            deciders.held_out_posteriors(tid, task, voters, tasks[task])
        seconds["leave-one-out"] += time.perf_counter() - start
        for name in LEARNED:
            start = time.perf_counter()
            for task in {task for _, task in new}:
                ids = [tid for tid in range(t + 1) if (tid, task) in voters]
                deciders.decider(name, task, ids, voters, tasks[task])
            seconds[f"fits: {name}"] += time.perf_counter() - start
    seconds["decider fits"] = sum(seconds[f"fits: {name}"] for name in LEARNED)
    return seconds


def run_wall_times(folder: str) -> list[float]:
    """Wall seconds (finished_at - started_at) of the results files under ``folder``."""
    return [wall for wall, _ in _run_times(folder)]


def recorded_decider_shares(folder: str) -> list[float]:
    """Each run's recorded seconds on its decider (sum of ``decider_time_s``) over its wall seconds.

    Only the files that record it (written since it was recorded) and their wall time.
    """
    return [decider / wall for wall, decider in _run_times(folder) if decider is not None and wall > 0]


def _run_times(folder: str) -> list[tuple[float, float | None]]:
    times = []
    for path in sorted(glob.glob(f"{folder}/*/*.json")):
        payload = json.load(open(path))
        config = payload["config"]
        if "started_at" in config and "finished_at" in config:
            spent = [row.get("decider_time_s") for row in payload.get("tasks", [])]
            decider = float(np.sum(spent)) if spent and all(s is not None for s in spent) else None
            times.append((config["finished_at"] - config["started_at"], decider))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deciders", description=__doc__.split("\n")[0])
    parser.add_argument("--n-tasks", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=500, help="training samples per task")
    parser.add_argument("--n-test", type=int, default=1000, help="test samples per task")
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--dim", type=int, default=2000, help="embedding width the voters store")
    parser.add_argument("--voter-dtype", default="float32")
    parser.add_argument("--runs", default=None, metavar="DIR", help="results folder of real runs of this protocol")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    print("benchmark i: cost of the learned deciders")
    print_facts(machine_facts(torch.device("cpu")))
    print(
        f"  sequence   {args.n_tasks} tasks x {args.n_train} training ({args.n_classes} classes), "
        f"{args.n_test} test, {args.dim}-d {args.voter_dtype} voters"
    )
    seconds = simulate(args, np.random.default_rng(args.seed))
    baseline = seconds["test posteriors"]
    extra = seconds["leave-one-out"] + seconds["decider fits"]
    for name, value in seconds.items():
        print(f"  {name:<30} {value:8.2f} s  ({value / args.n_tasks:.3f} s per task)")
    print(f"  learned deciders / test posteriors: {extra / baseline:.2f}")
    default = HYPERPARAMS["decider"].default
    own = seconds["leave-one-out"] + seconds[f"fits: {default}"]  # a network alone fits its own decider
    print(f"  the default decider ({default}) alone / test posteriors: {own / baseline:.2f}")
    if args.runs:
        walls = run_wall_times(args.runs)
        if walls:
            print(
                f"  runs in {args.runs}: {len(walls)}, mean wall {np.mean(walls):.0f} s; "
                f"learned deciders (all {len(LEARNED)}) {100 * extra / np.mean(walls):.1f}% of it, "
                f"the default alone {100 * own / np.mean(walls):.1f}%"
            )
        shares = recorded_decider_shares(args.runs)
        if shares:
            print(
                f"  recorded by the runs themselves: their decider took {100 * np.mean(shares):.2f}% of their "
                f"wall time (mean of {len(shares)}; {100 * min(shares):.2f}% to {100 * max(shares):.2f}%)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
