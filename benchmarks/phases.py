"""Benchmark b: where the time of one task-sequence run goes.

Runs the experiment's own ``run_one`` (CIFAR-100 10x10 when the data is
found, else synthetic 32x32 tasks of the same sizes) with the library's
methods wrapped by an exclusive phase timer: time spent in a nested phase
(e.g. the kNN inside validation) counts for the inner phase only.

Phases: training (``fit`` minus validation), validation (the per-epoch
validation loss and kNN accuracy), embedding (``transform``: voters' data and
test sets), kNN voters (voter fit and posteriors), and the rest of the
evaluation (bookkeeping, decider, accuracy).
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import ExitStack
from unittest import mock

import numpy as np

from proglearn_supcon.datasets import Task
from proglearn_supcon.experiments import run_record, sequence
from proglearn_supcon.experiments.arguments import build_parser
from proglearn_supcon.training import engine
from proglearn_supcon.transformers import NeuralClassificationTransformer
from proglearn_supcon.voters import KNNClassificationVoter


class PhaseTimer:
    """Exclusive wall time per phase; entering a phase pauses the enclosing one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[tuple[str, float]] = []

    def wrap(self, phase: str, function):
        def timed(*args, **kwargs):
            now = time.perf_counter()
            if self._stack:
                outer, since = self._stack[-1]
                self.seconds[outer] += now - since
            self._stack.append((phase, now))
            try:
                return function(*args, **kwargs)
            finally:
                name, since = self._stack.pop()
                now = time.perf_counter()
                self.seconds[name] += now - since
                if self._stack:
                    self._stack[-1] = (self._stack[-1][0], now)

        return timed


def synthetic_tasks(
    n_tasks: int = 10, classes_per_task: int = 10, n_train: int = 500, n_test: int = 1000, seed: int = 0
) -> list[Task]:
    """Random 32x32 RGB tasks with a learnable class signal (a class-coloured tint)."""
    rng = np.random.default_rng(seed)
    tasks = []
    for t in range(n_tasks):
        classes = np.arange(t * classes_per_task, (t + 1) * classes_per_task)
        tints = rng.uniform(0, 1, (classes_per_task, 1, 1, 3))

        def draw(n, tints=tints, classes=classes):  # bound now: the loop moves on
            y = np.resize(np.arange(classes_per_task), n)
            x = rng.uniform(0, 1, (n, 32, 32, 3)) * 0.7 + tints[y] * 0.3
            return (x * 255).astype(np.uint8), classes[y]

        X_train, y_train = draw(n_train)
        X_test, y_test = draw(n_test)
        tasks.append(Task(task_id=t, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, classes=classes))
    return tasks


def run(argv: list[str], data_found: bool) -> tuple[dict[str, float], float, object]:
    """Time one run of the experiment; returns (seconds per phase, wall seconds, RunResult)."""
    args = build_parser().parse_args(argv)
    spec = run_record.RunSpec(args.variant[0], args.shifts[0], args.slots[0])
    timer = PhaseTimer()
    T, V = NeuralClassificationTransformer, KNNClassificationVoter
    with ExitStack() as stack:
        for owner, name, phase in (
            (T, "fit", "training"),
            (engine, "evaluate", "validation"),
            (T, "transform", "embedding"),
            (V, "fit", "kNN voters"),
            (V, "predict_proba", "kNN voters"),
        ):
            stack.enter_context(mock.patch.object(owner, name, timer.wrap(phase, getattr(owner, name))))
        if not data_found:
            tasks = synthetic_tasks(args.n_tasks or 10)
            stack.enter_context(mock.patch.object(sequence, "task_sequence", lambda *a, **k: tasks))
        start = time.perf_counter()
        result = timer.wrap("evaluation (rest)", sequence.run_one)(spec, args)
        wall = time.perf_counter() - start
    return dict(timer.seconds), wall, result


def report(seconds: dict[str, float], wall: float, result, source: str) -> None:
    acc = result.accuracy
    print(
        f"\nb) one {acc.shape[0]}-task run of {result.variant} on {source}: {wall:.1f} s wall, "
        f"final accuracy {np.nanmean(acc[-1]):.3f}, mean single-task {np.nanmean(result.single_task_accuracy):.3f}"
    )
    print(f"  {'phase':<22}{'seconds':>10}{'share':>8}")
    for phase in ("training", "validation", "embedding", "kNN voters", "evaluation (rest)"):
        print(f"  {phase:<22}{seconds.get(phase, 0.0):>10.1f}{seconds.get(phase, 0.0) / wall:>8.0%}")
    epochs = result.tasks.get("n_epochs_run")
    if epochs is not None and np.isfinite(epochs).all():
        best = np.mean(result.tasks["best_epoch"])
        print(f"  epochs run per task: mean {np.mean(epochs):.1f} (best epoch mean {best:.1f})")
