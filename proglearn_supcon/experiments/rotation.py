"""The rotation protocol of the experiment (``proglearn-supcon run --protocol rotation``).

A *run* is one variant, one seeded repetition and one angle, written to
``<out>/<variant>/repetition<r>_angle<a>.json``. Task 1 (the first classes of
the data set, e.g. CIFAR-100 classes 0-9) is added with ``add_task``; task 2
(other images of the same classes, zoomed, rotated by the angle and cropped:
:func:`~proglearn_supcon.datasets.rotate_images`) is added with
``add_transformer`` only, which gives task 1 a voter on the new transformer and
adds no task. The run records task 1's accuracy with its own transformer (its
single-task learner) and with both; BTE(angle) is the ratio of their errors.

Task 1's transformer is trained once per (variant, repetition) and shared by
that repetition's angles: the driver is given one :class:`RotationUnit` per
(variant, repetition) with the angles still to do, and :func:`run_rotation`
returns one results file per angle. Every angle starts from a deep copy of the
network (and of the measurements) as it was after task 1, and task 2's
transformer is seeded from the repetition alone, so an angle's result does not
depend on which other angles ran before it in the unit, nor in which order: a
resumed sweep that does only the missing angles gets the same numbers.
Where the driver allows it (``args.checkpoint_dir``: workers on its machine),
each angle's file is written as soon as that angle finishes, so an interrupted
unit keeps its finished angles and a rerun does only the others.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import operator
import time
from dataclasses import dataclass

from proglearn_supcon import LifelongClassificationNetwork
from proglearn_supcon.datasets import check_angle, rotate_images, rotation_tasks
from proglearn_supcon.experiments.params import network_params
from proglearn_supcon.experiments.run_record import RunSpec, TaskRecord, run_config, run_result
from proglearn_supcon.experiments.sequence import evaluate_new_task, evaluate_seen_tasks, prepare_process, train_task
from proglearn_supcon.runs.parallel import worker_name
from proglearn_supcon.runs.results import write_run
from proglearn_supcon.runs.schema import RunResult
from proglearn_supcon.seeding import derive_seed
from proglearn_supcon.validation import is_int

__all__ = ["RotationUnit", "load_rotation_tasks", "rotation_specs", "rotation_units", "run_rotation"]


@dataclass(frozen=True)
class RotationUnit:
    """The runs of one variant and repetition that share task 1's transformer: one per angle."""

    variant: str
    repetition: int
    angles: tuple[int, ...]

    def describe(self) -> str:
        """The unit as text, e.g. ``"supcon repetition 1 angles 0, 90"``."""
        return f"{self.variant} repetition {self.repetition} angles {', '.join(map(str, self.angles))}"


def rotation_specs(variants, repetitions: int, angles) -> list[RunSpec]:
    """One :class:`RunSpec` per (variant, repetition, angle): ``shift`` is the repetition, ``slot`` the angle.

    Variants inner-most, as in the 10x10 sweep, so parallel workers finish
    comparable repetitions first. ``ValueError`` on no repetitions, no
    angles, or an angle outside [0, 360] or not whole degrees.
    """
    if operator.index(repetitions) < 1:
        raise ValueError(f"no repetitions: the rotation protocol needs at least 1, got {repetitions}")
    if not len(angles):
        raise ValueError("no angles: the rotation protocol needs at least one")
    for angle in angles:
        if not is_int(angle):  # file names hold whole degrees
            raise ValueError(f"angles must be whole degrees; got {angle!r}")
        check_angle(angle)
    return [RunSpec(v, r, a, "rotation") for r in range(1, repetitions + 1) for a in angles for v in variants]


def rotation_units(specs) -> list[RotationUnit]:
    """The runs ``specs`` (rotation :class:`RunSpec`) grouped by (variant, repetition), in first-seen order."""
    angles: dict[tuple[str, int], list[int]] = {}
    for spec in specs:
        angles.setdefault((spec.variant, spec.shift), []).append(spec.slot)
    return [RotationUnit(variant, repetition, tuple(a)) for (variant, repetition), a in angles.items()]


def load_rotation_tasks(unit: RotationUnit, args: argparse.Namespace) -> tuple:
    """Task 1 and the unrotated task 2 of the unit's repetition; the split is seeded by the repetition alone.

    Every variant (and every angle) of a repetition sees the same images, so
    variants pair by (repetition, angle).
    """
    return rotation_tasks(
        args.dataset,
        classes_per_task=args.classes_per_task,
        n_train_per_task=args.n_train_per_task,
        random_state=derive_seed(args.seed, "rotation-split", unit.repetition),
        data_dir=args.data_dir,
        download=args.download,
        verify=not args.no_verify,
    )


def run_rotation(
    unit: RotationUnit, args: argparse.Namespace, threads: int | None = None, position: int = 0
) -> list[RunResult]:
    """Train task 1 once, then task 2 at every angle of ``unit``; one result per angle (the driver writes them).

    Parameters
    ----------
    unit : RotationUnit
        The variant, repetition and angles.
    args : argparse.Namespace
        The experiment's options (:func:`~proglearn_supcon.experiments.arguments.build_parser`).
    threads : int, optional
        Torch threads; None keeps torch's default.
    position : int, default 0
        Line of this unit's progress bar.

    Returns
    -------
    list of RunResult
        In the order of ``unit.angles``; ``shift`` is the repetition and
        ``slot`` the angle. ``accuracy[0, 0]`` is task 1 with its own
        transformer, ``accuracy[1, 0]`` with both; the per-task fields of
        index 0 (task 1's transformer, trained once for all the angles) are
        the same in every result. Each result's ``config`` holds the
        angle's own ``started_at`` and ``finished_at`` (after task 1, so
        task 1's training is not counted in every angle) and, with
        ``args.checkpoint_dir`` set, its file was written there already.

    Raises
    ------
    ValueError
        On an angle outside [0, 360], before anything is trained.
    """
    from tqdm.auto import tqdm

    for angle in unit.angles:
        check_angle(angle)
    peak = prepare_process(threads)
    task1, task2 = load_rotation_tasks(unit, args)
    params = network_params(args, unit.variant, unit.repetition, 0)
    # Shared by the variants of a repetition, so they differ only in the loss.
    params["random_state"] = derive_seed(args.seed, "rotation", unit.repetition)
    net = LifelongClassificationNetwork(**params)
    record = TaskRecord.empty(2)
    train_task(net, task1, 0, record)
    evaluate_new_task(net, task1, 0, record)
    evaluate_seen_tasks(net, [task1], 0, record)
    record.per_task["peak_memory_mb"][0] = peak.mb()

    results = []
    for angle in tqdm(unit.angles, desc=unit.describe(), position=position, disable=args.quiet, unit="angle"):
        # Each angle gets its own copy of the network after task 1: no angle
        # sees another's transformer or voters, whatever order they run in.
        started = time.time()
        angle_net, angle_record = copy.deepcopy(net), copy.deepcopy(record)
        rotated = dataclasses.replace(task2, X_train=rotate_images(task2.X_train, angle))
        train_task(angle_net, rotated, 1, angle_record, as_task=False)
        evaluate_seen_tasks(angle_net, [task1, rotated], 1, angle_record, evaluated=(0,))
        angle_record.per_task["peak_memory_mb"][1] = peak.mb()
        spec = RunSpec(unit.variant, unit.repetition, angle, "rotation")
        config = {
            **run_config(spec, args, angle_net, [task1, rotated], peak),
            "repetition": unit.repetition,
            "angle": angle,
            "worker": worker_name(),
            "device_slot": getattr(args, "device_slot", None),
            "started_at": started,
            "finished_at": time.time(),
        }
        result = run_result(spec, args, angle_net, [task1, rotated], angle_record, config)
        if getattr(args, "checkpoint_dir", None) is not None:
            # A checkpoint only: the driver writes every result it gets back
            # (or keeps it elsewhere), so a failed write here must not lose the unit.
            with contextlib.suppress(OSError):
                write_run(args.checkpoint_dir, result)
        results.append(result)
    return results
