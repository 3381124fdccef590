"""The task-sequence engine: train progressive networks task by task and record accuracy and transfer.

For every (variant, shift, slot) a fresh :class:`LifelongClassificationNetwork`
learns the tasks in order (:func:`run_one`). After each task it records the
accuracy on every task seen so far (all transformers voting) and the
single-task accuracy of the new task (its own transformer only,
``transformer_ids=[t]``: no second network is trained), plus training time,
inference times and peak memory. With ``--diagnostics`` it also records the
transfer matrix, the embedding geometry of every (transformer, task) pair in
the encoder and projection spaces on the test and training data, and the
decomposition of each task's final network accuracy
(:mod:`proglearn_supcon.experiments.diagnostics`). The digits and CIFAR
sequences and the label-shuffle protocol run here; the rotation protocol
(:mod:`proglearn_supcon.experiments.rotation`) uses the same steps
(:func:`train_task`, :func:`evaluate_new_task`, :func:`evaluate_seen_tasks`)
and ends in the same :func:`~proglearn_supcon.experiments.run_record.run_result`.
What a run is and records (:class:`~proglearn_supcon.experiments.run_record.RunSpec`,
:class:`~proglearn_supcon.experiments.run_record.TaskRecord`) is
:mod:`proglearn_supcon.experiments.run_record`; the command that plans the runs
and writes their files is :mod:`proglearn_supcon.experiments.cifar_task_sequence`.
"""

from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.datasets import shuffle_labels, task_sequence
from proglearn_supcon.experiments.checkpoints import MIN_TASKS, RunCheckpoint
from proglearn_supcon.experiments.diagnostics import run_diagnostics
from proglearn_supcon.experiments.params import jsonable, network_params, recorded_network_params
from proglearn_supcon.experiments.run_record import RunSpec, TaskRecord, run_config, run_result
from proglearn_supcon.runs.allocator import release_freed_memory, retain_freed_memory
from proglearn_supcon.runs.memory import PeakMemory
from proglearn_supcon.runs.schema import RunResult
from proglearn_supcon.seeding import derive_seed
from proglearn_supcon.task_deciders import held_out_rows


def prepare_process(threads: int | None) -> PeakMemory:
    """Set torch's thread count (None leaves its default), keep freed memory for reuse; start the run's peak."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    # Training frees and reallocates the same large buffers every step; without
    # this each one is page-faulted back in (1.5x slower steps in Dask workers).
    retain_freed_memory()
    # What earlier runs in this process freed (and retain_freed_memory kept)
    # goes back to the OS, so it neither grows the worker's memory run after
    # run nor counts in this run's peak, which is measured from here.
    release_freed_memory()
    return PeakMemory()


def load_tasks(spec: RunSpec, args: argparse.Namespace) -> list:
    """The run's task sequence: ``args.dataset`` at the spec's shift and slot.

    With ``--protocol label-shuffle`` the training labels of tasks 1.. are
    permuted (:func:`~proglearn_supcon.datasets.shuffle_labels`), seeded by
    the run's (shift, slot), so every variant sees the same permutations.
    """
    tasks = task_sequence(
        args.dataset,
        n_tasks=args.n_tasks,
        classes_per_task=args.classes_per_task,
        n_train_per_task=args.n_train_per_task,
        shift=spec.shift,
        slot=spec.slot,
        data_dir=args.data_dir,
        download=args.download,
        verify=not args.no_verify,
    )
    if args.protocol == "label-shuffle":
        return shuffle_labels(tasks, derive_seed(args.seed, "label-shuffle", spec.shift, spec.slot))
    return tasks


def train_task(net: LifelongClassificationNetwork, task, t: int, record: TaskRecord, as_task: bool = True) -> None:
    """Add task ``t`` to ``net`` and record its training time and epochs.

    With ``as_task=False`` the task's data trains a transformer of id ``t``
    only (``add_transformer``: voters for the existing tasks, no new task).
    """
    per_task = record.per_task
    start = time.perf_counter()
    if as_task:
        net.add_task(task.X_train, task.y_train, task_id=t)
    else:
        net.add_transformer(task.X_train, task.y_train, transformer_id=t)
    per_task["train_time_s"][t] = time.perf_counter() - start
    transformer = net.learner_.transformers_[t]
    per_task["n_epochs_run"][t] = transformer.n_epochs_run_
    per_task["best_epoch"][t] = transformer.best_epoch_
    per_task["val_accuracy"][t] = _best_val_accuracy(transformer)
    if as_task and np.isnan(per_task["val_accuracy"][t]):  # trained without a validation split
        per_task["val_accuracy"][t] = _own_voter_held_out_accuracy(net, t)


def evaluate_new_task(net: LifelongClassificationNetwork, task, t: int, record: TaskRecord) -> None:
    """Task ``t``'s test set through every transformer: single-task accuracy and both inference times.

    Timed as a user would pay for it: single-task inference is the new
    transformer and its voter; multitask inference adds the other transformers'
    embeddings and voters.
    """
    learner, per_task = net.learner_, record.per_task
    embeddings, posteriors = record.test_embeddings[t], record.test_posteriors
    embed_time = {}
    for tid in range(t + 1):
        start = time.perf_counter()
        embeddings[tid] = learner.transform(task.X_test, tid)
        embed_time[tid] = time.perf_counter() - start
    start = time.perf_counter()
    posteriors[t] = learner.voter_posteriors({t: embeddings[t]}, t)
    single_proba = learner.decide(posteriors[t], t)
    per_task["single_task_inference_time_s"][t] = embed_time[t] + time.perf_counter() - start
    start = time.perf_counter()
    others = {tid: emb for tid, emb in embeddings.items() if tid != t}
    if others:
        posteriors[t].update(learner.voter_posteriors(others, t))
    learner.decide(posteriors[t], t)
    per_task["multitask_inference_time_s"][t] = (
        per_task["single_task_inference_time_s"][t]
        + sum(embed_time[tid] for tid in others)
        + time.perf_counter()
        - start
    )
    per_task["single_task_accuracy"][t] = np.mean(task.classes[single_proba.argmax(1)] == task.y_test)


def evaluate_seen_tasks(
    net: LifelongClassificationNetwork, tasks, t: int, record: TaskRecord, evaluated: Sequence[int] | None = None
) -> None:
    """Accuracy of every task seen after task ``t``, the earlier ones now also voted on by transformer ``t``.

    ``evaluated`` restricts this to those tasks (e.g. ``(0,)``: task 0 only).
    """
    learner = net.learner_
    for s in range(t + 1):
        if evaluated is not None and s not in evaluated:
            continue
        if s < t:  # an earlier task's test set through the new transformer (backward transfer)
            record.test_embeddings[s][t] = learner.transform(tasks[s].X_test, t)
            record.test_posteriors[s].update(learner.voter_posteriors({t: record.test_embeddings[s][t]}, s))
        for name, accuracy in record.decider_accuracy.items():
            proba = learner.decide(record.test_posteriors[s], s, name)
            accuracy[t, s] = np.mean(tasks[s].classes[proba.argmax(1)] == tasks[s].y_test)
        record.accuracy[t, s] = record.decider_accuracy[learner.decider][t, s]


def _decider_seconds(net: LifelongClassificationNetwork) -> float:
    """Wall seconds ``net`` has spent on its own decider so far (0 before its first task).

    Only the network's decider counts: the others an experiment records are
    its bookkeeping, not what a user of the network pays.
    """
    learner = getattr(net, "learner_", None)
    return 0.0 if learner is None else learner.task_deciders_.seconds_for(learner.decider)


def learn_tasks(
    net: LifelongClassificationNetwork,
    tasks,
    label: str,
    quiet: bool,
    position: int,
    peak: PeakMemory,
    evaluated: Sequence[int] | None = None,
    keep_embeddings: bool = False,
    record: TaskRecord | None = None,
    first_task: int = 0,
    after_task=None,
) -> TaskRecord:
    """Learn ``tasks`` in order with ``net``, evaluating after each; returns what was measured.

    ``peak`` measures the run's own peak memory, recorded after each task.
    ``evaluated``: the tasks whose test sets are evaluated (default: all), e.g.
    ``(0,)`` for the label-shuffle protocol; the others get NaN accuracies.
    ``keep_embeddings`` keeps every test embedding in the record, for the
    diagnostics; otherwise each is dropped once its posteriors are known.
    ``record`` and ``first_task`` resume a run whose tasks ``0..first_task - 1``
    ``net`` learned and ``record`` holds (a checkpoint,
    :mod:`~proglearn_supcon.experiments.checkpoints`); the peak memory of the
    later tasks is at least the one recorded before. ``after_task(t, record)``
    is called after each task.
    """
    from tqdm.auto import tqdm

    if record is None:
        record = TaskRecord.empty(len(tasks))
    earlier = record.per_task["peak_memory_mb"][:first_task]
    earlier_peak = float(np.nanmax(earlier)) if np.isfinite(earlier).any() else 0.0
    bar = tqdm(total=len(tasks), initial=first_task, desc=label, position=position, disable=quiet, unit="task")
    for t in range(first_task, len(tasks)):
        task = tasks[t]
        decider_seconds = _decider_seconds(net)
        train_task(net, task, t, record)
        if evaluated is None or t in evaluated:
            evaluate_new_task(net, task, t, record)
        evaluate_seen_tasks(net, tasks, t, record, evaluated)
        record.per_task["decider_time_s"][t] = _decider_seconds(net) - decider_seconds
        if not keep_embeddings:
            record.drop_embeddings()
        record.per_task["peak_memory_mb"][t] = max(peak.mb(), earlier_peak)
        if after_task is not None:
            after_task(t, record)
        bar.update()
        bar.set_postfix(
            acc=f"{np.nanmean(record.accuracy[t, : t + 1]):.3f}",
            single=f"{record.per_task['single_task_accuracy'][t]:.3f}",
        )
    bar.close()
    return record


def run_one(spec: RunSpec, args: argparse.Namespace, threads: int | None = None, position: int = 0) -> RunResult:
    """Train one network over the task sequence and return its results (the driver writes them).

    Parameters
    ----------
    spec : RunSpec
        The variant, shift and slot.
    args : argparse.Namespace
        The experiment's options (:func:`~proglearn_supcon.experiments.arguments.build_parser`).
    threads : int, optional
        Torch threads of this run; None keeps torch's default.
    position : int, default 0
        Line of this run's progress bar.

    Returns
    -------
    RunResult
        Accuracies, per-task fields, config and, with ``args.diagnostics``, the diagnostics.
    """
    peak = prepare_process(threads)
    tasks = load_tasks(spec, args)
    params = network_params(args, spec.variant, spec.shift, spec.slot)
    net = LifelongClassificationNetwork(**params)
    # Label shuffle: only task 0 is evaluated (the later tasks' labels are random by design).
    evaluated = (0,) if args.protocol == "label-shuffle" else None
    checkpoint = run_checkpoint(spec, args, net, tasks)
    resumed = checkpoint.resume() if checkpoint is not None else None
    record, first_task, written = None, 0, []
    if resumed is not None:
        net, fields, first_task, _ = resumed
        record = TaskRecord(**fields)
        net.verbose = params["verbose"]  # this process's progress output, not the interrupted one's

    def save_after(t: int, rec: TaskRecord) -> None:
        written.append(checkpoint.save(net, rec, t + 1, len(tasks)))

    record = learn_tasks(
        net,
        tasks,
        spec.describe(),
        args.quiet,
        position,
        peak,
        evaluated,
        keep_embeddings=args.diagnostics,
        record=record,
        first_task=first_task,
        after_task=None if checkpoint is None else save_after,
    )
    config = run_config(spec, args, net, tasks, peak)
    if first_task:
        config["resumed_from_task"] = first_task  # tasks 0..first_task - 1 came from the checkpoint
    if checkpoint is not None:
        config["checkpoint_write_s"] = float(sum(written))  # this process's, after its tasks
    diagnostics = (
        run_diagnostics(net.learner_, record.test_embeddings, record.test_posteriors, tasks, net.random_state)
        if args.diagnostics
        else None
    )
    return run_result(spec, args, net, tasks, record, config, diagnostics)


def run_checkpoint(spec: RunSpec, args: argparse.Namespace, net: LifelongClassificationNetwork, tasks):
    """The run's :class:`~proglearn_supcon.experiments.checkpoints.RunCheckpoint`, or None where it keeps none.

    A run keeps one when its worker may write beside the results
    (``args.checkpoint_dir``) and it has at least
    :data:`~proglearn_supcon.experiments.checkpoints.MIN_TASKS` tasks. It
    resumes only a checkpoint of the same run, recipe and data settings.
    """
    folder = getattr(args, "checkpoint_dir", None)
    if folder is None or len(tasks) < MIN_TASKS:
        return None
    identity = jsonable(
        {
            "run": [spec.variant, spec.shift, spec.slot, spec.protocol],
            "network_params": recorded_network_params(net),
            **{
                key: getattr(args, key, None)
                for key in ("dataset", "n_tasks", "classes_per_task", "n_train_per_task", "diagnostics", "seed")
            },
            "data_fingerprint": getattr(args, "data_fingerprint", None),
            "n_tasks_loaded": len(tasks),
        }
    )
    return RunCheckpoint(spec.path(folder), identity)


def _own_voter_held_out_accuracy(net: LifelongClassificationNetwork, t) -> float:
    """Leave-one-out kNN accuracy of task ``t``'s own voter on the task's voter split.

    The held-out check of a transformer trained without a validation split
    (the fixed-budget recipe): the voter split never trained the transformer,
    and the failure checks (:mod:`proglearn_supcon.runs.flags`) read it as the
    validation accuracy. The posteriors are those the learned deciders use,
    computed once and kept by the learner.
    """
    learner = net.learner_
    task = learner.tasks_[t]
    posteriors = learner.task_deciders_.held_out_posteriors(t, t, learner.voters_, task)
    labels = task.y[held_out_rows(task.voter_indices, len(task.y), own=False)]
    return float(np.mean(task.classes[posteriors.argmax(axis=1)] == labels))


def _best_val_accuracy(transformer) -> float:
    """Validation kNN accuracy of the kept epoch (NaN when nothing was validated)."""
    history = transformer.history_
    if transformer.best_epoch_ not in history["epoch"]:
        return float("nan")
    return float(history["val_accuracy"][history["epoch"].index(transformer.best_epoch_)])
