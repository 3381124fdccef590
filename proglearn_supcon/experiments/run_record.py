"""The records of one run: which run it is, what it measured, and what it leaves behind.

:class:`RunSpec` names a run (variant, shift, slot and protocol; its text and
its results file), :class:`TaskRecord` holds what it measures task by task,
and :func:`run_config` and :func:`run_result` make the ``config`` of its
results file and the :class:`~proglearn_supcon.runs.schema.RunResult` the
driver writes. Every protocol's runs end in :func:`run_result`: the task
sequences (:func:`~proglearn_supcon.experiments.sequence.run_one`) and the
rotation angles (:func:`~proglearn_supcon.experiments.rotation.run_rotation`),
so a results file has one shape whichever made it (:mod:`proglearn_supcon.runs.schema`).
"""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork, __version__
from proglearn_supcon.deciders import DECIDERS
from proglearn_supcon.experiments.params import jsonable, recorded_network_params
from proglearn_supcon.precision import use_bf16
from proglearn_supcon.runs.flags import run_flags
from proglearn_supcon.runs.memory import PeakMemory
from proglearn_supcon.runs.provenance import provenance
from proglearn_supcon.runs.results import describe_run, run_path
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

__all__ = ["RunSpec", "TaskRecord", "decider_fields", "run_config", "run_result"]


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
        "cpu_model": cpu_name(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "peak_memory_scope": peak.scope,  # "run", or "process" where the peak could not be reset
    }
    config = jsonable(config)
    # Hashed from the parameters as written, so the hash can be recomputed from the file.
    config["provenance"] = provenance(config["network_params"])
    return config


def run_result(
    spec: RunSpec,
    args: argparse.Namespace,
    net: LifelongClassificationNetwork,
    tasks,
    record: TaskRecord,
    config: dict,
    diagnostics=None,
) -> RunResult:
    """The :class:`RunResult` of a finished run, as the driver writes it.

    Parameters
    ----------
    spec : RunSpec
        The run: its variant, shift and slot.
    args : argparse.Namespace
        The experiment's options; ``args.dataset`` names the data set.
    net : LifelongClassificationNetwork
        The network after the run's last task.
    tasks : list of Task
        The run's tasks; the first one's classes count the classes per task (for the flags).
    record : TaskRecord
        What the run measured: ``accuracy`` of shape (T, T), ``per_task`` arrays of shape (T,).
    config : dict
        The results file's ``config`` (:func:`run_config`, plus what the caller adds).
    diagnostics : Diagnostics, optional
        The run's diagnostics; None without ``--diagnostics``.

    Returns
    -------
    RunResult
        With the flagged transformers (:func:`~proglearn_supcon.runs.flags.run_flags`)
        and every decider's accuracy and weights (:func:`decider_fields`).
    """
    return RunResult(
        variant=spec.variant,
        dataset=args.dataset,
        shift=spec.shift,
        slot=spec.slot,
        accuracy=record.accuracy,
        tasks=record.per_task,
        config=config,
        library_version=__version__,
        diagnostics=diagnostics,
        flagged_transformers=run_flags(record.per_task, config, len(tasks[0].classes)),
        **decider_fields(net, record),
    )


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


def _device(net: LifelongClassificationNetwork):
    """The torch device the run's transformers are on (the first one's)."""
    transformer = next(iter(net.learner_.transformers_.values()))
    return next(transformer.encoder_.parameters()).device


def _arithmetic(net: LifelongClassificationNetwork) -> str:
    """``"bf16 autocast"`` or ``"fp32"``: what the run's ``precision`` resolved to on its device."""
    return "bf16 autocast" if use_bf16(net.precision, _device(net)) else "fp32"


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what :mod:`platform` knows.

    Recorded because kernels and rounding differ between CPUs of one instruction set
    (an AMX Xeon and an AVX512-BF16 EPYC both report ``cpu_capability`` "AVX512").
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _device_name(net: LifelongClassificationNetwork) -> str:
    import torch

    device = _device(net)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
