"""Train progressive networks task by task and record accuracy and transfer.

For every (variant, shift, slot) a fresh :class:`LifelongClassificationNetwork`
learns the tasks in order. After each task it records the accuracy on every
task seen so far (all transformers voting) and the single-task accuracy of the
new task (its own transformer only, ``transformer_ids=[t]``: no second network
is trained), plus training time, inference times and peak memory. With
``--diagnostics`` it also records the transfer matrix, the embedding geometry
of every (transformer, task) pair in the encoder and projection spaces on the
test and training data, and the decomposition of each task's final network
accuracy (:mod:`proglearn_supcon.experiments.diagnostics`). Each run is
written atomically to ``<out>/<variant>/shift<s>_slot<k>.json`` (see
:mod:`proglearn_supcon.runs.results`); a rerun skips the finished runs and
moves a corrupt results file aside (``<name>.corrupt``) to redo its run.

Examples
--------
Quick start (offline, about a minute on 2 CPU cores: supcon, ce and tcl on
the noisy, rotated digits of "digits-hard", then the supcon - ce figure and
summary)::

    proglearn-supcon run          # or: python -m experiments.cifar_task_sequence

CIFAR-100 10x10, both variants, all six shifts, two runs at a time::

    proglearn-supcon run --dataset cifar100 --variant supcon ce \\
        --shifts 1-6 --data-dir ../shared/data --n-jobs 2

ProgLearn's adversarial sequences (``--protocol``; results under
``results/<dataset>_label_shuffle`` and ``results/<dataset>_rotation`` by
default, and the BTE figure of task 1 at the end,
:mod:`proglearn_supcon.plotting.plot_adversarial`): the 10x10 sequence with
the training labels of tasks 2.. shuffled, task 1 evaluated after each task
(same runs, files and resume as above); and the rotation sequence, one run per
(variant, repetition, angle), trained by :mod:`proglearn_supcon.experiments.rotation`::

    proglearn-supcon run --protocol label-shuffle --dataset cifar100 --variant supcon ce --shifts 1-5
    proglearn-supcon run --protocol rotation --dataset cifar100 --variant supcon ce \\
        --angles 0-180:15 --repetitions 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork, __version__
from proglearn_supcon.datasets import DataNotFoundError, shuffle_labels, task_sequence
from proglearn_supcon.datasets.fingerprint import data_fingerprint
from proglearn_supcon.deciders import DECIDERS
from proglearn_supcon.experiments import driver
from proglearn_supcon.experiments.arguments import (  # noqa: F401 - DEFAULT_EPOCHS: public here too
    DEFAULT_EPOCHS,
    build_parser,
    check_protocol_arguments,
)
from proglearn_supcon.experiments.checkpoints import MIN_TASKS, RunCheckpoint, remove_checkpoint
from proglearn_supcon.experiments.diagnostics import run_diagnostics
from proglearn_supcon.experiments.params import check_network_params, jsonable, network_params, recorded_network_params
from proglearn_supcon.experiments.run_checks import check_out_folder, check_run_settings
from proglearn_supcon.experiments.run_contract import contract_problem, parallelism_warning
from proglearn_supcon.precision import use_bf16
from proglearn_supcon.runs.allocator import release_freed_memory, retain_freed_memory
from proglearn_supcon.runs.flags import run_flags
from proglearn_supcon.runs.folder_lock import FolderLockedError, hold_folder
from proglearn_supcon.runs.memory import PeakMemory
from proglearn_supcon.runs.provenance import provenance
from proglearn_supcon.runs.results import describe_run, folder_runs, run_path
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult
from proglearn_supcon.seeding import derive_seed

#: Name of this command in its error lines.
PROG = "proglearn-supcon run"


@dataclass(frozen=True)
class RunSpec:
    """One run: a variant on one shift and slot of a task sequence.

    For the rotation protocol, ``shift`` is the repetition and ``slot`` the
    angle in degrees (:func:`~proglearn_supcon.runs.results.run_keys`).
    """

    variant: str
    shift: int
    slot: int
    protocol: str = "tenxten"

    def describe(self) -> str:
        """The run as text, e.g. ``"supcon shift 1 slot 0"``."""
        return describe_run(self.variant, self.shift, self.slot, self.protocol)

    def path(self, out) -> Path:
        """The run's results file under ``out``."""
        return run_path(out, self.variant, self.shift, self.slot, self.protocol)


@dataclass
class TaskRecord:
    """What a run measures, filled in task by task.

    ``accuracy[t, s]``: task ``s`` after learning tasks ``0..t`` (NaN for
    ``s > t``) under the network's decider; ``decider_accuracy[name]`` the
    same under every decider of :data:`~proglearn_supcon.deciders.DECIDERS`,
    from the same voter posteriors; ``per_task``: one value per task for each of
    :data:`~proglearn_supcon.runs.schema.TASK_FIELDS`. ``test_embeddings[s][tid]``
    is transformer ``tid``'s embedding of task ``s``'s test set and
    ``test_posteriors[s][tid]`` its voter's posteriors there: transformers and
    voters are frozen once fitted, so each pair is computed once and its
    posteriors kept for the later tasks. The embeddings are needed by the
    diagnostics alone and, without them, dropped after each task
    (:meth:`drop_embeddings`): there are T x T of them, 8 MB each for 1000
    CIFAR test images, where the posteriors are 80 KB.
    """

    accuracy: np.ndarray
    per_task: dict[str, np.ndarray]
    test_embeddings: list[dict]
    test_posteriors: list[dict]
    decider_accuracy: dict[str, np.ndarray]

    @classmethod
    def empty(cls, n_tasks: int) -> "TaskRecord":
        return cls(
            decider_accuracy={name: np.full((n_tasks, n_tasks), np.nan) for name in DECIDERS},
            accuracy=np.full((n_tasks, n_tasks), np.nan),
            per_task={name: np.full(n_tasks, np.nan) for name in TASK_FIELDS},
            test_embeddings=[dict() for _ in range(n_tasks)],
            test_posteriors=[dict() for _ in range(n_tasks)],
        )

    def drop_embeddings(self) -> None:
        """Forget the test embeddings computed so far (the posteriors stay)."""
        for embeddings in self.test_embeddings:
            embeddings.clear()


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
        train_task(net, task, t, record)
        if evaluated is None or t in evaluated:
            evaluate_new_task(net, task, t, record)
        evaluate_seen_tasks(net, tasks, t, record, evaluated)
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


def run_config(
    spec: RunSpec, args: argparse.Namespace, net: LifelongClassificationNetwork, tasks, peak: PeakMemory
) -> dict:
    """The ``config`` of a results file: the run's options, network parameters, sizes, machine and provenance.

    ``config["provenance"]`` is :func:`proglearn_supcon.runs.provenance.provenance`:
    the git commit of the code, the versions of torch, numpy and scikit-learn,
    and the hash of the recipe (the network parameters but the seed).
    """
    import torch

    # Not copied from args: what the spec says for this run, and the driver's
    # plumbing (device_slot is recorded by the driver or the rotation angle).
    not_copied = ("variant", "shifts", "slots", "func", "checkpoint_dir", "device_slot", "driver_pid")
    config = {
        **{k: v for k, v in vars(args).items() if k not in not_copied},
        "variant": spec.variant,
        "shift": spec.shift,
        "slot": spec.slot,
        "network_params": recorded_network_params(net),
        "n_train_per_task": int(len(tasks[0].y_train)),
        "n_classes_per_task": int(len(tasks[0].classes)),
        "n_test_per_task": int(len(tasks[0].y_test)),
        "torch_threads": torch.get_num_threads(),
        "device_name": _device_name(net),
        # precision="auto" resolves per machine (bf16 autocast only where native), so record what ran.
        "arithmetic": _arithmetic(net),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "peak_memory_scope": peak.scope,  # "run", or "process" where the peak could not be reset
    }
    config = jsonable(config)
    # Hashed from the parameters as written, so the hash can be recomputed from the file.
    config["provenance"] = provenance(config["network_params"])
    return config


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
    return RunResult(
        variant=spec.variant,
        dataset=args.dataset,
        shift=spec.shift,
        slot=spec.slot,
        accuracy=record.accuracy,
        tasks=record.per_task,
        config=config,
        library_version=__version__,
        diagnostics=(
            run_diagnostics(net.learner_, record.test_embeddings, record.test_posteriors, tasks, net.random_state)
            if args.diagnostics
            else None
        ),
        flagged_transformers=run_flags(record.per_task, config, len(tasks[0].classes)),
        **decider_fields(net, record),
    )


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


def decider_fields(net: LifelongClassificationNetwork, record: TaskRecord) -> dict:
    """``decider_accuracy`` and ``decider_weights`` of a run's :class:`RunResult`, after its last task.

    The weights of every decider and task are over the task's voters in
    transformer order (uniform for "average"); a task that was not evaluated
    still has them.
    """
    learner = net.learner_
    return {
        "decider_accuracy": {name: matrix.copy() for name, matrix in record.decider_accuracy.items()},
        "decider_weights": {
            name: [list(learner.decider_weights(task_id, name).values()) for task_id in learner.task_ids]
            for name in record.decider_accuracy
        },
    }


def _best_val_accuracy(transformer) -> float:
    """Validation kNN accuracy of the kept epoch (NaN when nothing was validated)."""
    history = transformer.history_
    if transformer.best_epoch_ not in history["epoch"]:
        return float("nan")
    return float(history["val_accuracy"][history["epoch"].index(transformer.best_epoch_)])


def _device(net: LifelongClassificationNetwork):
    """The torch device the run's transformers are on (the first one's)."""
    transformer = next(iter(net.learner_.transformers_.values()))
    return next(transformer.encoder_.parameters()).device


def _arithmetic(net: LifelongClassificationNetwork) -> str:
    """``"bf16 autocast"`` or ``"fp32"``: what the run's ``precision`` resolved to on its device."""
    return "bf16 autocast" if use_bf16(net.precision, _device(net)) else "fp32"


def _device_name(net: LifelongClassificationNetwork) -> str:
    import torch

    device = _device(net)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = check_protocol_arguments(args)  # also fills in the rotation defaults
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.out is None:
        name = args.dataset if args.protocol == "tenxten" else f"{args.dataset}_{args.protocol.replace('-', '_')}"
        args.out = str(Path("results") / name)
    if args.n_jobs < 1:
        print("error: --n-jobs must be at least 1", file=sys.stderr)
        return 2
    specs, units, load_data, run_function = _protocol_plan(args)
    args.data_fingerprint = data_fingerprint(
        args.dataset, verified=not args.no_verify
    )  # recorded in each run's config, with the options
    if args.list:
        return driver.list_runs(specs, args)
    problem = check_network_params(specs, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    problem = check_run_settings(specs, args) or check_out_folder(args.out, sorted({s.variant for s in specs}))
    if problem:
        return _usage_error(problem)
    try:
        # One driver per folder for the whole run: no two train the same runs
        # or write runs of other settings beside each other's.
        with hold_folder(args.out, args.wait, on_wait=lambda holder: print(f"waiting for {holder}", file=sys.stderr)):
            return _run_in_folder(args, specs, units, load_data, run_function)
    except FolderLockedError as exc:
        return _usage_error(str(exc))
    except KeyboardInterrupt:
        done, _ = driver.split_finished(specs, args.out, move_corrupt=False)
        print(f"interrupted; {len(done)} finished runs kept in {args.out}", file=sys.stderr)
        return 130


def _run_in_folder(args: argparse.Namespace, specs, units, load_data, run_function) -> int:
    """The part of :func:`main` that holds ``args.out``: check its runs, train the others, report."""
    done, todo = driver.split_finished(specs, args.out)
    for spec in done:  # left by a driver killed between writing the results and removing them
        remove_checkpoint(spec.path(args.out))
    problem = _other_protocol(done, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    # Every finished file of the folder, not only this sweep's: the folder is pooled as a whole.
    found = folder_runs(args.out)
    problem = contract_problem(found, specs, args)
    if problem:
        return _usage_error(problem)
    warning = parallelism_warning(found, args)
    if warning:
        print(warning, file=sys.stderr)
    print(f"{len(specs) - len(todo)} of {len(specs)} runs already finished in {args.out}; {len(todo)} to do")
    if not todo:
        return _report(args)
    try:
        # Loads (and validates) the data once before any training starts. Only
        # where the runs train: cluster workers read their own data and report it missing.
        if driver.is_local(args):
            load_data(units(todo)[0], args)
    except (FileNotFoundError, ValueError) as exc:
        # The missing-data advice in the command line's words (--data-dir, --download).
        print(f"error: {exc.command_line_message() if isinstance(exc, DataNotFoundError) else exc}", file=sys.stderr)
        return 2
    code = driver.run_all(units(todo), len(units(specs)), args, run_function)
    return code if code else _report(args)


def _usage_error(message: str) -> int:
    """Print ``message`` as the command line's one error line (cli.py's format) and return exit status 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _protocol_plan(args: argparse.Namespace):
    """``(specs, units, load_data, run_function)`` of ``args.protocol``.

    ``specs``: one :class:`RunSpec` per results file; ``units(specs)``: what
    the driver trains as one job (each spec, or for the rotation protocol the
    angles of a (variant, repetition), which share task 1's transformer);
    ``load_data(unit, args)`` loads and checks a unit's data; ``run_function``
    trains a unit (looked up now, so a test may have replaced it; a top-level
    function, so worker processes can unpickle it by name).
    """
    if args.protocol == "rotation":
        # Imported here: the rotation module imports this one's helpers.
        from proglearn_supcon.experiments import rotation

        specs = rotation.rotation_specs(args.variant, args.repetitions, args.angles)
        return specs, rotation.rotation_units, rotation.load_rotation_tasks, rotation.run_rotation
    # Variants inner-most, so parallel workers finish comparable (shift, slot) pairs first.
    specs = [RunSpec(v, s, k, args.protocol) for s in args.shifts for k in args.slots for v in args.variant]
    return specs, list, load_tasks, run_one


def _other_protocol(done: dict, args: argparse.Namespace) -> str | None:
    """An error line if a finished results file under ``--out`` was made by another protocol; else None.

    ``done`` maps each finished spec to the run its file holds. A file of the
    same name from another sequence would otherwise count as finished and be
    skipped (the 10x10 and label-shuffle files share names).
    """
    for spec, run in done.items():
        made_by = run.protocol
        if made_by != args.protocol:
            return (
                f"{spec.path(args.out)} was made by --protocol {made_by}, not {args.protocol}; "
                "give this protocol its own --out"
            )
    return None


def _report(args: argparse.Namespace) -> int:
    """Print where the results are and, with supcon and ce, write and summarize their comparison."""
    if args.protocol == "tenxten":
        from proglearn_supcon.experiments.summary import summarize
    else:
        from proglearn_supcon.plotting.plot_adversarial import summarize

    try:
        print(summarize(args.out, args.variant, allow_mixed_recipes=args.allow_mixed_recipes))
    except ValueError as exc:  # e.g. a corrupt file of a run this command was not asked to do
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
