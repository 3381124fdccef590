"""Per-task checkpoints of a long task-sequence run, and its progress for the driver's bar.

A run writes its results file only when it returns: a 50-task CIFAR-100 run
takes an hour, and a kill near its end lost all of it. A run of
:data:`MIN_TASKS` tasks or more whose worker shares the driver's file system
(``args.checkpoint_dir``, :mod:`proglearn_supcon.experiments.driver`)
therefore saves, after each task, the network and everything measured so far
(:class:`~proglearn_supcon.experiments.run_record.TaskRecord`, the
peak memory so far) beside its results file::

    <out>/<variant>/shift<s>_slot<k>.checkpoint/  the network and the record (pickles, written atomically)
    <out>/<variant>/shift<s>_slot<k>.progress     "<tasks done> <tasks>", for the driver's progress bar

Neither name matches a results file (``*.json``), so no reader, ``--list``
or folder check takes them for results. The driver removes both once the
run's results file is written. A rerun of the same command resumes the run
after its last saved task: the transformers derive their seeds from the
run's ``random_state`` and the task id, the voters' splits likewise, and the
learned deciders' cached posteriors travel in the pickled network, so the
resumed run's results equal an uninterrupted run's (at the same thread
count) but for the times, the peak memory (the larger of the saved peak and
the resumed process's) and ``config["resumed_from_task"]``. A checkpoint of
other settings (another recipe, data or task count) is ignored, with a
warning, and overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from proglearn_supcon.fileio import atomic_write_text
from proglearn_supcon.persistence import load_object, save_object

#: Runs of this many tasks or more save a checkpoint after each task.
MIN_TASKS = 4
#: The checkpoint's format, checked when it is read.
FORMAT = "proglearn_supcon.run_checkpoint/1"


def checkpoint_path(results_path: str | Path) -> Path:
    """The checkpoint beside the results file ``results_path`` (``.json`` becomes ``.checkpoint``)."""
    return Path(results_path).with_suffix(".checkpoint")


def progress_path(results_path: str | Path) -> Path:
    """The progress file beside the results file ``results_path`` (``.json`` becomes ``.progress``)."""
    return Path(results_path).with_suffix(".progress")


def remove_checkpoint(results_path: str | Path) -> None:
    """Remove the checkpoint and progress file of the run whose results file is ``results_path``."""
    remove_tree(checkpoint_path(results_path))  # a read-only folder: removed by the next run here
    try:
        progress_path(results_path).unlink(missing_ok=True)
    except OSError:
        pass


def read_progress(results_path: str | Path) -> tuple[int, int] | None:
    """``(tasks done, tasks)`` of the run whose results file is ``results_path``; None without a progress file."""
    try:
        done, total = progress_path(results_path).read_text(encoding="utf-8").split()
        return int(done), int(total)
    except (OSError, ValueError):
        return None


class RunCheckpoint:
    """The checkpoint of one run: where it is and the settings it must have been made with.

    The checkpoint is a folder. What a task adds to the network and never
    changes afterwards (its transformer, its reducer, its voter data and the
    voters it adds) is written once, to ``part<t>.pt`` after task ``t``;
    ``state.pt``, rewritten after each task, holds the rest of the network
    (its deciders), the record, the order of those parts and the parts it
    needs. Each file is written atomically and ``state.pt`` last, so a kill at
    any moment leaves the checkpoint of the last task that finished. Saving
    the whole network after each task instead would write T(T+1)/2
    transformers over a run of T tasks (11 GB, 31 s of a 72 s 20-task run).

    Parameters
    ----------
    results_path : path-like
        The run's results file.
    identity : dict
        JSON values that a checkpoint must match to be resumed: the run, its
        network parameters and its data settings.
    """

    #: The learner's dicts whose entries never change once added (saved once each, in a part).
    FROZEN = ("transformers_", "reducers_", "tasks_", "voters_")

    def __init__(self, results_path: str | Path, identity: dict):
        self.results_path = Path(results_path)
        self.path = checkpoint_path(results_path)
        self.identity = identity
        self._parts: list[str] = []
        self._saved: dict[str, set] = {name: set() for name in self.FROZEN}
        self._warned = False

    def resume(self):
        """``(net, record_fields, next_task, peak_mb)`` saved here, or None when there is no usable checkpoint.

        ``record_fields`` are the fields of the saved ``TaskRecord``. A
        checkpoint that cannot be read, or was made with other settings, is
        reported on stderr and ignored (the run starts over and replaces it).
        """
        if not (self.path / "state.pt").is_file():
            return None
        try:
            saved = load_object(self.path / "state.pt", expected_type=dict)
            if saved.get("format") != FORMAT:
                raise ValueError("not a run checkpoint")
            if saved.get("identity") != self.identity:
                print(
                    f"warning: ignoring the checkpoint {self.path}: it was made with other settings; "
                    "the run starts over",
                    file=sys.stderr,
                )
                return None
            parts = [load_object(self.path / part, expected_type=dict) for part in saved["parts"]]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            print(f"warning: ignoring the checkpoint {self.path}: {exc}; the run starts over", file=sys.stderr)
            return None
        net, learner = saved["net"], saved["net"].learner_
        for name in self.FROZEN:
            entries = {key: value for part in parts for key, value in part[name].items()}
            # In the order the learner had them: some loops run over these dicts.
            setattr(learner, name, {key: entries[key] for key in saved["order"][name]})
            self._saved[name] = set(saved["order"][name])
        self._parts = list(saved["parts"])
        return net, saved["record"], int(saved["next_task"]), float(saved["peak_mb"])

    def save(self, net, record, next_task: int, n_tasks: int) -> float:
        """Save ``net`` and ``record`` after task ``next_task - 1``, then the progress; returns the seconds spent.

        A failed write (a full disk) is reported once on stderr and the run
        goes on: the checkpoint only spares a rerun work.
        """
        import time

        start = time.perf_counter()
        try:
            self._save(net, record, next_task)
            atomic_write_text(progress_path(self.results_path), f"{next_task} {n_tasks}\n")
        except OSError as exc:
            if not self._warned:
                print(f"warning: cannot write the checkpoint {self.path}: {exc}", file=sys.stderr)
                self._warned = True
        return time.perf_counter() - start

    def _save(self, net, record, next_task: int) -> None:
        learner = net.learner_
        if not self._parts and self.path.exists():  # a checkpoint this run did not resume: start it anew
            remove_tree(self.path)
        frozen = {name: getattr(learner, name) for name in self.FROZEN}
        part = f"part{next_task - 1}.pt"
        save_object(
            {name: {k: v for k, v in d.items() if k not in self._saved[name]} for name, d in frozen.items()},
            self.path / part,
        )
        peaks = record.per_task["peak_memory_mb"][:next_task]
        state = {
            "format": FORMAT,
            "identity": self.identity,
            "next_task": next_task,
            "parts": [*self._parts, part],
            "order": {name: list(d) for name, d in frozen.items()},
            # Its fields, not the dataclass: a pickled class is found by module name,
            # and the experiment's module may be __main__ (python -m ...).
            "record": dict(vars(record)),
            "peak_mb": float(np.nanmax(peaks)) if np.isfinite(peaks).any() else 0.0,
        }
        try:  # the network without what the parts hold, for as long as it takes to save it
            for name in self.FROZEN:
                setattr(learner, name, {})
            state["net"] = net
            save_object(state, self.path / "state.pt")
        finally:
            for name, d in frozen.items():
                setattr(learner, name, d)
        self._parts.append(part)
        for name, d in frozen.items():
            self._saved[name].update(d)


def remove_tree(path: Path) -> None:
    """Remove the folder ``path`` and what it holds; nothing if it is gone."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
