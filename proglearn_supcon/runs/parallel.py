"""Run independent jobs on local processes, a Dask cluster or a Ray cluster.

:func:`open_backend` gives one interface, ``map_unordered(func, items)``, over
three backends:

``"loky"``
    joblib's local processes (``n_jobs`` of them; in this process when 1).
``"dask"``
    joblib's Dask backend on an existing cluster (``scheduler`` address), or on
    a :class:`distributed.LocalCluster` of ``n_jobs`` one-thread processes.
``"ray"``
    a Ray cluster (``ray_address``) or a local one with ``n_jobs`` processes.
    Ray's joblib backend cannot return results as they finish, so this goes
    through Ray's own process pool; the function run is the same.

Results come back in completion order, so the caller can save each one as
soon as it exists. :func:`claim_device` gives a job one device of a list, at
most one job per listed device at a time on a host.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

#: Parallel backends that run the experiment's runs.
BACKENDS = ("loky", "dask", "ray")
#: Seconds to wait for a Dask scheduler or Ray head to answer before giving up.
CONNECT_TIMEOUT_S = 3.0
#: Seconds joblib waits for a first Dask worker (e.g. SLURM jobs still queued).
WAIT_FOR_WORKERS_S = 600.0
#: Seconds an idle local (loky) worker waits for a job before it ends.
IDLE_WORKER_TIMEOUT_S = 10.0
#: Seconds between two checks of :func:`watch_parent` that the driver still lives.
PARENT_CHECK_S = 1.0


class BackendError(RuntimeError):
    """The backend cannot be imported, reached or started."""


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a SLURM allocation)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def sequential_threads() -> int | None:
    """Torch threads of runs trained one at a time here: this process's cores, unless the user chose.

    None where ``OMP_NUM_THREADS`` is set (torch then follows it), else
    :func:`available_cores`: torch's own default can count cores outside
    the process's affinity mask (e.g. a SLURM or ``taskset`` allocation) and
    then runs more threads than it has cores, which is many times slower.
    """
    return None if os.environ.get("OMP_NUM_THREADS") else available_cores()


def load_average() -> float | None:
    """The machine's 1-minute load average, or None where the system has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on every system
        return None


def busy_cores_warning(threads: int) -> str | None:
    """A one-line warning when other processes keep this machine's cores busy, or None.

    ``threads``: the torch threads this sweep will run at once. Threads that
    wait for each other at every step lose most of their speed when another
    process holds one of their cores (the quick start took 365 s instead of
    20 s beside one busy process), so a 1-minute load average of one core or
    more, measured before training, is said once.
    """
    load = load_average()
    if load is None or load < 1.0:
        return None
    return (
        f"warning: the machine is busy (1-minute load average {load:.1f}, {os.cpu_count()} cores; this run may use "
        f"{available_cores()}); training with {threads} threads will be slower than usual, "
        "--threads-per-run 1 or a quieter machine helps"
    )


def jobs_per_process() -> int:
    """Jobs this process runs at once: a Dask worker's thread count, else 1."""
    try:
        from distributed import get_worker

        return max(1, get_worker().state.nthreads)
    except (ImportError, ValueError):  # not installed, or not inside a Dask worker
        return 1


def default_threads() -> int:
    """Torch threads for one job: this process's cores shared by its concurrent jobs."""
    return max(1, available_cores() // jobs_per_process())


def worker_name() -> str:
    """Name of the process running a job, as users see it in their cluster's dashboard."""
    host = socket.gethostname()
    try:
        from distributed import get_worker

        return f"dask worker {get_worker().address} on {host}"
    except (ImportError, ValueError):
        return f"{host} (pid {os.getpid()})"


_watching: set[int] = set()


def watch_parent(driver_pid: int | None) -> None:
    """End this process when the driver ``driver_pid``, its parent, ends (once started, for the process's life).

    A local worker busy with an hour-long run would otherwise finish it for
    nobody after the driver was killed (``kill -9``, a closed terminal): its
    result has no one to write it. A daemon thread compares the parent's pid
    with ``driver_pid`` every :data:`PARENT_CHECK_S` seconds and exits the
    process when they differ (the parent died; the worker was re-parented).
    Does nothing in the driver itself, or where the driver is not the parent
    (Dask or Ray workers, whose parent is a nanny or raylet).
    """
    import threading

    if driver_pid is None or os.getpid() == driver_pid or os.getppid() != driver_pid or driver_pid in _watching:
        return
    _watching.add(driver_pid)

    def watch() -> None:
        while os.getppid() == driver_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)  # no cleanup to wait for: the run's result has no one to receive it

    threading.Thread(target=watch, name="proglearn-supcon driver watch", daemon=True).start()


def device_slots(devices: list[str]) -> list[str]:
    """One lock name per listed device; a device listed twice gets two slots.

    Examples
    --------
    >>> device_slots(["cuda:0", "cuda:1", "cuda:0"])
    ['cuda:0#0', 'cuda:1#0', 'cuda:0#1']
    """
    seen: dict[str, int] = {}
    slots = []
    for device in devices:
        slots.append(f"{device}#{seen.get(device, 0)}")
        seen[device] = seen.get(device, 0) + 1
    return slots


def default_lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / "proglearn_supcon_device_locks"


@contextlib.contextmanager
def claim_device(devices: list[str], index: int, lock_dir: str | os.PathLike | None = None):
    """Hold one device of ``devices`` for the duration of a job.

    Tries ``devices[index % len(devices)]`` first (round-robin placement),
    then any other free slot, and waits for the first choice when all are
    taken. Slots are file locks on this host, so every process here (loky or
    Dask workers, several sweeps) shares them, and devices of different hosts
    never collide. A lock dies with its process.

    Yields
    ------
    (device, slot) : tuple of str
        The device string to use and its slot name (see :func:`device_slots`).
    """
    import fcntl

    if not devices:
        raise ValueError("devices must name at least one device")
    slots = device_slots(devices)
    folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    first = index % len(devices)
    order = [(first + k) % len(devices) for k in range(len(devices))]
    handle = None
    try:
        for k in order:
            handle = open(folder / f"{_safe_name(slots[k])}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.close()
                handle = None
        if handle is None:
            k = first
            handle = open(folder / f"{_safe_name(slots[k])}.lock", "a+")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield devices[k], slots[k]
    finally:
        if handle is not None:
            handle.close()  # releases the lock


def _safe_name(slot: str) -> str:
    return "".join(c if c.isalnum() or c in "-_#." else "_" for c in slot)


def _call(packed: tuple[Callable, tuple]) -> Any:
    func, args = packed
    return func(*args)


class _JoblibBackend:
    def __init__(self, n_jobs: int, backend: str | None = None):
        self.n_jobs = n_jobs
        self.backend = backend

    def map_unordered(self, func: Callable, items: Iterable[tuple]) -> Iterator[Any]:
        from joblib import Parallel, delayed, parallel_config

        config = (
            parallel_config(backend="dask", wait_for_workers_timeout=WAIT_FOR_WORKERS_S)
            if self.backend == "dask"
            else contextlib.nullcontext()
        )
        # Local processes: idle ones end after IDLE_WORKER_TIMEOUT_S, not loky's
        # 300 s, so none outlives a driver killed between jobs for minutes (one
        # busy with a job ends by watch_parent).
        local = {} if self.backend == "dask" else {"backend": "loky", "idle_worker_timeout": IDLE_WORKER_TIMEOUT_S}
        with config:
            # batch_size=1: every job is its own task, so it comes back (and is saved) alone.
            parallel = Parallel(n_jobs=self.n_jobs, return_as="generator_unordered", batch_size=1, **local)
            yield from parallel(delayed(func)(*item) for item in items)


class _RayBackend:
    def __init__(self, pool):
        self.pool = pool

    def map_unordered(self, func: Callable, items: Iterable[tuple]) -> Iterator[Any]:
        yield from self.pool.imap_unordered(_call, [(func, item) for item in items])


@contextlib.contextmanager
def open_backend(
    backend: str = "loky",
    n_jobs: int = 1,
    scheduler: str | None = None,
    ray_address: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
):
    """Start or connect to a backend and yield an object with ``map_unordered(func, items)``.

    ``map_unordered`` calls ``func(*item)`` for every item and yields the
    return values as they finish. An exception raised by ``func`` stops the
    iteration; callers that want to go on after a failed job return it instead.

    Parameters
    ----------
    backend : {"loky", "dask", "ray"}
    n_jobs : int
        Local processes; ignored when connecting to a cluster (its workers decide).
    scheduler : str, optional
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``.
    ray_address : str, optional
        Address of a running Ray cluster, e.g. ``"ray://10.0.0.1:10001"`` or ``"auto"``.
    connect_timeout : float
        Seconds to wait for the scheduler or Ray head.

    Raises
    ------
    BackendError
        The backend is not installed or cannot be reached; the message says why.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if backend == "loky":
        yield _JoblibBackend(n_jobs)
    elif backend == "dask":
        with _dask_client(n_jobs, scheduler, connect_timeout):
            yield _JoblibBackend(-1, backend="dask")
    else:
        with _ray_pool(n_jobs, ray_address) as pool:
            yield _RayBackend(pool)


@contextlib.contextmanager
def _dask_client(n_jobs: int, scheduler: str | None, connect_timeout: float):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise BackendError("the dask backend needs dask.distributed: pip install 'proglearn-supcon[dask]'") from exc
    if scheduler is None:
        with (
            LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    start = time.monotonic()
    try:
        client = Client(scheduler, timeout=connect_timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BackendError(
            f"cannot reach the Dask scheduler at {scheduler!r} (gave up after {time.monotonic() - start:.0f} s): {exc}"
        ) from None
    with client:
        yield client


@contextlib.contextmanager
def _ray_pool(n_jobs: int, ray_address: str | None):
    try:
        import ray
        from ray.util.multiprocessing import Pool
    except ImportError as exc:
        raise BackendError("the ray backend needs ray: pip install 'proglearn-supcon[ray]'") from exc
    started_here = not ray.is_initialized()
    try:
        if started_here:
            if ray_address is None:
                ray.init(num_cpus=n_jobs, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=ray_address, log_to_driver=False)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        raise BackendError(f"cannot reach the Ray cluster at {ray_address!r}: {exc}") from None
    pool = Pool(processes=n_jobs if ray_address is None else None)
    try:
        yield pool
    finally:
        pool.terminate()
        if started_here:
            ray.shutdown()
