"""Dispatch the experiment's runs to a backend and save each one as it comes back.

Workers only train and return a :class:`~proglearn_supcon.runs.schema.RunResult`
(or a :class:`RunFailure`); this process, the driver, writes every results
file atomically as soon as its run returns. Results therefore need no shared
filesystem, and a driver that dies loses only the runs still in flight.
Where the workers share this machine's filesystem (:func:`is_local`), a
function that returns several runs may also write each one as it finishes
(``args.checkpoint_dir``, set here): a unit of 13 rotation angles takes over
an hour at one thread, and an interrupted one should keep its finished angles.

The driver does not know the experiment: :func:`run_all` is given the function
that trains one run (``run_one(spec, args, threads, position) -> RunResult``,
e.g. :func:`proglearn_supcon.experiments.sequence.run_one`), or
several runs that share their training (a list of RunResults, e.g. the angles
of one rotation repetition, :func:`proglearn_supcon.experiments.rotation.run_rotation`).
A spec only needs ``describe()`` (the run as text) and, for the finished
check, ``path(out)`` (its results file). With a
parallel backend that function travels to the workers, so it must be
picklable: a module-level function, which workers import by name.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from proglearn_supcon.experiments.checkpoints import read_progress, remove_checkpoint
from proglearn_supcon.runs.allocator import release_freed_memory
from proglearn_supcon.runs.errors import command_error
from proglearn_supcon.runs.parallel import (
    BackendError,
    available_cores,
    busy_cores_warning,
    claim_device,
    default_threads,
    open_backend,
    sequential_threads,
    watch_parent,
    worker_name,
)
from proglearn_supcon.runs.results import CorruptResultsError, move_aside, read_run, run_path, write_run
from proglearn_supcon.runs.schema import RunResult

#: ``threads`` value telling a worker to use its cores shared by its concurrent runs.
WORKER_CORES = "worker cores"
#: The command whose runs the driver trains, as its error lines name it (:mod:`proglearn_supcon.runs.errors`).
COMMAND = "run"


@dataclass(frozen=True)
class RunFailure:
    """A run that raised on a worker: which run, where, and why."""

    spec: object
    worker: str
    error: str
    traceback: str

    def describe(self) -> str:
        return f"{self.spec.describe()} failed on {self.worker}: {self.error}"


def execute_run(
    run_one, spec, args: argparse.Namespace, threads: int | str | None, device_index: int, position: int = 0
) -> RunResult | list[RunResult] | RunFailure:
    """Train one run with ``run_one`` where this is called (driver or worker) and return it; writes nothing.

    The device is ``args.device``, or with ``args.devices`` one of those held
    for the run's duration (:func:`~proglearn_supcon.runs.parallel.claim_device`).
    ``threads`` is torch's thread count: None leaves torch's default,
    :data:`WORKER_CORES` uses this process's cores shared by its concurrent runs.
    An ``Exception`` comes back as a :class:`RunFailure` so the other runs go on.
    """
    worker = worker_name()
    watch_parent(getattr(args, "driver_pid", None))  # a local worker ends with its driver
    try:
        with _device(args, device_index) as (device, slot):
            run_args = copy.copy(args)
            run_args.device = device
            run_args.device_slot = slot
            started = time.time()
            if threads == WORKER_CORES:
                threads = default_threads()
            run = run_one(spec, run_args, threads, position)
            finished = time.time()
        # The run's networks and data are gone now; hand their freed memory back
        # to the OS so an idle worker does not hold it (see runs/allocator.py).
        release_freed_memory()
    except Exception as exc:
        return RunFailure(spec, worker, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    # A run that recorded its own (e.g. one angle of a rotation unit, written
    # as it finished) keeps them, so the driver rewrites the same file.
    for result in _as_list(run):
        for key, value in (
            ("worker", worker),
            ("device_slot", slot),
            ("started_at", started),
            ("finished_at", finished),
        ):
            result.config.setdefault(key, value)
    return run


def _trains_on_cpu(args: argparse.Namespace) -> bool:
    """Whether the runs train on this machine's CPU (``--device cpu``, or ``auto`` without CUDA)."""
    device = getattr(args, "device", "cpu")
    if getattr(args, "devices", None) or device not in (None, "auto", "cpu"):
        return False
    if device == "cpu":
        return True
    import torch

    return not torch.cuda.is_available()


def _as_list(outcome) -> list:
    """The RunResults of an outcome of ``run_one``: one, or a list of them."""
    return outcome if isinstance(outcome, list) else [outcome]


@contextlib.contextmanager
def _device(args, device_index: int):
    if args.devices:
        with claim_device(args.devices, device_index) as claimed:
            yield claimed
    else:
        yield args.device, None


def is_local(args: argparse.Namespace) -> bool:
    """Whether runs train on this machine (so its data and cores are the workers')."""
    return (
        args.backend == "loky"
        or (args.backend == "dask" and args.scheduler is None)
        or (args.backend == "ray" and args.ray_address is None)
    )


def read_finished(path: Path, move_corrupt: bool = True) -> RunResult | None:
    """The run the results file ``path`` holds, or None if it holds no finished run; a corrupt one is moved aside first.

    A file that exists but does not read as a run (truncated, not JSON, fields
    missing, values out of range: :class:`~proglearn_supcon.runs.results.CorruptResultsError`)
    is not finished: it is renamed by :func:`~proglearn_supcon.runs.results.move_aside`,
    never deleted, with a warning on stderr naming both paths, so that the run
    is done again. With ``move_corrupt=False`` it is only reported (``--list``
    changes nothing on disk). A file that another process moved or removed
    meanwhile is not finished either.
    """
    try:
        return read_run(path)
    except FileNotFoundError:
        return None
    except CorruptResultsError as exc:
        if not move_corrupt:
            print(f"warning: {exc}; the run will be redone", file=sys.stderr)
            return None
        try:
            moved = move_aside(path)
        except FileNotFoundError:  # another process moved it aside first
            return None
        print(f"warning: {exc}; moved it to {moved} and will redo the run", file=sys.stderr)
        return None


def is_finished(path: Path) -> bool:
    """Whether the results file ``path`` holds a finished run (see :func:`read_finished`)."""
    return read_finished(path) is not None


def split_finished(specs, out, move_corrupt: bool = True) -> tuple[dict, list]:
    """The runs of ``specs`` finished under ``out`` and those still to do (see :func:`read_finished`).

    The finished ones map each spec to the run its file holds, read once here
    so that callers checking them need not read the files again.
    """
    runs = {spec: read_finished(spec.path(out), move_corrupt) for spec in specs}
    return {spec: run for spec, run in runs.items() if run is not None}, [spec for spec in specs if runs[spec] is None]


def list_runs(specs, args: argparse.Namespace) -> int:
    """Print the finished runs and those still to do; trains nothing and changes nothing (corrupt files stay)."""
    paths = {spec: spec.path(args.out) for spec in specs}
    done, todo = split_finished(specs, args.out, move_corrupt=False)
    print(f"finished ({len(done)} of {len(specs)}):")
    for spec in done:
        print(f"  {spec.describe()}  {paths[spec]}")
    print(f"to do ({len(todo)} of {len(specs)}):")
    for spec in todo:
        progress = read_progress(paths[spec])
        resumes = f"  (resumes after task {progress[0]} of {progress[1]})" if progress else ""
        print(f"  {spec.describe()}{resumes}")
    return 0


def run_all(todo, n_total: int, args: argparse.Namespace, run_one) -> int:
    """Train the runs ``todo`` with ``run_one`` on ``args.backend``, writing each file as it returns.

    ``run_one(spec, args, threads, position)`` trains one run and returns its
    :class:`~proglearn_supcon.runs.schema.RunResult` (or a list of them, each
    written as its own file); with a parallel backend it is
    pickled to the workers, so pass a module-level function.

    Returns the exit status: 0 when every run finished, 1 when a run failed, a
    finished run could not be written under ``args.out`` (it is kept elsewhere,
    :func:`write_result`) or the backend broke (finished runs are kept;
    rerunning does the rest), 2 when the backend cannot be reached.
    """
    from tqdm.auto import tqdm

    sequential = args.backend == "loky" and args.n_jobs == 1
    if args.threads_per_run is not None:
        threads = args.threads_per_run
    elif sequential:
        threads = sequential_threads()  # this process's cores (None: OMP_NUM_THREADS decides)
    elif is_local(args):
        threads = max(1, available_cores() // args.n_jobs)
    else:
        threads = WORKER_CORES  # each worker decides from the cores it was given
    if is_local(args) and _trains_on_cpu(args):
        warning = busy_cores_warning(threads * args.n_jobs if isinstance(threads, int) else available_cores())
        if warning:
            print(warning, file=sys.stderr)
    worker_args = copy.copy(args)
    # Workers on this machine may write the runs they finish before their unit returns.
    worker_args.checkpoint_dir = args.out if is_local(args) else None
    worker_args.driver_pid = os.getpid()
    if not sequential:
        # One bar, the driver's: workers' per-task and per-epoch bars would interleave.
        worker_args.quiet = True
    items = [(run_one, spec, worker_args, threads, i, 1) for i, spec in enumerate(todo)]

    written, failures, unsaved = [], [], []
    started = time.perf_counter()
    bar = tqdm(
        total=n_total, initial=n_total - len(todo), desc="runs", unit="run", disable=args.quiet, position=0, smoothing=0
    )
    # Only a run of a task sequence (a spec with its results file's path)
    # writes per-task progress; a rotation unit's angles are results files of
    # their own, counted by the bar itself.
    progress_paths = [spec.path(args.out) for spec in todo if hasattr(spec, "path")]
    watcher = (
        None
        if sequential or args.quiet or worker_args.checkpoint_dir is None or not progress_paths
        else _TaskProgress(bar, progress_paths)
    )
    try:
        with open_backend(args.backend, args.n_jobs, scheduler=args.scheduler, ray_address=args.ray_address) as backend:
            outcomes = (
                (execute_run(*item) for item in items) if sequential else backend.map_unordered(execute_run, items)
            )
            for outcome in outcomes:
                if isinstance(outcome, RunFailure):
                    failures.append(outcome)
                    bar.write(f"FAILED {outcome.describe()}", file=sys.stderr)
                else:
                    for result in _as_list(outcome):
                        path, problem = write_result(args.out, result)
                        if problem:
                            unsaved.append(path)
                            # Status 1 comes at the end; the error line now, above the bar.
                            with bar.external_write_mode(file=sys.stderr):
                                command_error(COMMAND, problem, status=1)
                        else:
                            written.append(path)
                            remove_checkpoint(path)  # the run is done: nothing to resume
                            bar.write(f"wrote {path}")
                bar.update()
    except BackendError as exc:
        return command_error(COMMAND, exc)
    except Exception as exc:  # the backend itself broke (a worker died, code missing there, ...)
        bar.close()
        command_error(
            COMMAND,
            f"the {args.backend} backend failed after {len(written)} runs were written: {type(exc).__name__}: {exc}",
            status=1,
        )
        if isinstance(exc, ModuleNotFoundError):
            print(
                "Workers need this repository importable: start them from its root with "
                f"PYTHONPATH={Path.cwd()} (see the README).",
                file=sys.stderr,
            )
        print("Finished runs are kept; rerun the same command to do the rest.", file=sys.stderr)
        return 1
    finally:
        if watcher is not None:
            watcher.stop()
        bar.close()
    print(f"{len(written)} runs in {time.perf_counter() - started:.0f} s")
    if failures:
        _report_failures(failures, len(todo))
    if unsaved:
        command_error(
            COMMAND,
            f"{len(unsaved)} finished runs could not be written to {args.out}; they are kept in "
            f"{unsaved[0].parents[1]}: copy them into {args.out} once it is writable",
            status=1,
        )
    return 1 if failures or unsaved else 0


class _TaskProgress:
    """Shows the tasks done by the runs in flight in the driver's bar, e.g. ``tasks 12/20 7/20``.

    Parallel workers draw no bars of their own (they would interleave); a run
    that keeps checkpoints writes ``<tasks done> <tasks>`` to its progress
    file after each task (:mod:`~proglearn_supcon.experiments.checkpoints`),
    and a daemon thread here reads those of the runs still to do every
    :data:`POLL_S` seconds. Runs without progress files (few tasks, workers
    elsewhere) show nothing.
    """

    POLL_S = 2.0

    def __init__(self, bar, paths):
        import threading

        self.bar, self.paths = bar, list(paths)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="proglearn-supcon task progress", daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        shown = ""
        while not self.done.wait(self.POLL_S):
            counts = [read_progress(path) for path in self.paths if not path.exists()]
            text = " ".join(f"{done}/{total}" for done, total in filter(None, counts))
            text = f"tasks {text}" if text else ""
            if text != shown:
                self.bar.set_postfix_str(text)
                shown = text

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def write_result(out, result: RunResult) -> tuple[Path, str | None]:
    """Write ``result`` under ``out``; where that fails, under a fallback folder. Returns ``(path, problem)``.

    A finished run is hours of work: a write error (a full disk, a folder made
    read-only meanwhile) must not throw it away, nor stop the sweep. The
    fallback is :func:`fallback_dir` (the temporary folder, else the current
    one), with the same ``<variant>/<name>.json`` layout; ``problem`` says
    what failed and where the result went (None when ``out`` took it).
    """
    try:
        return write_run(out, result), None
    except OSError as exc:
        error = exc
    target = run_path(out, result.variant, result.shift, result.slot, result.protocol)
    for folder in fallback_dirs():
        try:
            path = write_run(folder, result)
        except OSError:
            continue
        return path, f"could not write {target} ({error}); kept the result in {path}"
    raise error


def fallback_dirs() -> list[Path]:
    """Folders :func:`write_result` keeps results in: the temporary folder's, else the current folder's."""
    name = f"proglearn_supcon_unsaved_{os.getpid()}"
    return [Path(tempfile.gettempdir()) / name, Path.cwd() / name]


def _report_failures(failures: list[RunFailure], n_todo: int) -> None:
    command_error(
        COMMAND,
        f"{len(failures)} of {n_todo} runs failed; rerun the same command to retry them (finished runs are kept):",
        status=1,
    )
    shown = set()
    for failure in failures:
        print(f"  {failure.describe()}", file=sys.stderr)
        if failure.error not in shown:  # one traceback per distinct error, not 60 copies
            shown.add(failure.error)
            print("    " + failure.traceback.rstrip().replace("\n", "\n    "), file=sys.stderr)
