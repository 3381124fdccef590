"""Shared test fixtures: synthetic image tasks, fast training settings, the experiment's tiny run.

Every test also gets torch's thread count back as it found it: a run with
``threads_per_run`` sets it for its process, and in the test process that
would slow every later test down.

Tests take these as fixtures rather than importing this module, so that each test
gets fresh copies it may change and the values live in one place.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

# Distinct colours; class c gets colour c % 6 and blob position c // 6.
_PALETTE = np.array(
    [[1, 0.1, 0.1], [0.1, 1, 0.1], [0.1, 0.1, 1], [1, 1, 0.1], [1, 0.1, 1], [0.1, 1, 1]], dtype=np.float32
)
_CENTRES = [(10, 10), (21, 21), (10, 21), (21, 10)]


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _idle_machine(monkeypatch):
    """The busy-machine warning of ``run`` (parallel.busy_cores_warning) only where a test asks for it.

    Tests that compare stderr line for line would otherwise depend on what
    else the machine runs; tests in subprocesses still see the real load.
    """
    from proglearn_supcon.runs import parallel

    monkeypatch.setattr(parallel, "load_average", lambda: 0.0)


def make_blob_images(classes, n_per_class: int, seed: int = 0, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Coloured Gaussian blobs rendered to (n, size, size, 3) uint8 images.

    Class ``c`` is a blob of colour ``c % 6`` around centre ``c // 6`` with a
    random offset of up to 3 pixels and pixel noise, on a dark background, so
    every class is learnable but no two images are equal.
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(size, dtype=np.float32)
    images, labels = [], []
    for c in classes:
        cy, cx = _CENTRES[(c // 6) % len(_CENTRES)]
        offsets = rng.integers(-3, 4, size=(n_per_class, 2))
        ys = (grid[None, :, None] - (cy + offsets[:, 0, None, None])) ** 2
        xs = (grid[None, None, :] - (cx + offsets[:, 1, None, None])) ** 2
        blob = np.exp(-(ys + xs) / (2 * 4.0**2))  # (n, size, size)
        img = blob[..., None] * _PALETTE[c % 6] + rng.normal(0, 0.08, size=(n_per_class, size, size, 3))
        images.append(np.clip(img, 0, 1))
        labels.append(np.full(n_per_class, c))
    X = (np.concatenate(images) * 255).round().astype(np.uint8)
    y = np.concatenate(labels)
    order = rng.permutation(len(y))
    return X[order], y[order]


@pytest.fixture(scope="session")
def blob_images():
    """``make_blob_images`` itself (session scope, so module-scoped fixtures can build tasks with it)."""
    return make_blob_images


# Settings that train the default CNN in about a second per task on 2 CPU cores;
# the only definition, so a key added here reaches every test that trains.
# min_epochs=0: these tests check selection and stopping over every epoch of a short budget.
_FAST_PARAMS = dict(epochs=8, batch_size=32, lr=1e-3, patience=8, min_epochs=0, device="cpu")


@pytest.fixture(scope="session")
def fast_params():
    """``fast_params(**overrides)``: a fresh dict of the fast training settings, updated by ``overrides``."""

    def make(**overrides):
        return {**_FAST_PARAMS, **overrides}

    return make


@pytest.fixture(scope="session")
def tiny_run_args():
    """``tiny_run_args(*extra, epochs=1, n_tasks=2, n_train_per_task=None, threads_per_run=None)``: a fresh argv.

    The experiment's tiny run (two digit tasks, quiet, on the CPU) followed by
    ``extra`` (turned into strings); ``None`` leaves an option out, so the
    experiment's default holds.
    """

    def make(*extra, epochs=1, n_tasks=2, n_train_per_task=None, threads_per_run=None):
        argv = ["--dataset", "digits", "--epochs", str(epochs)]
        if n_tasks is not None:
            argv += ["--n-tasks", str(n_tasks)]
        if n_train_per_task is not None:
            argv += ["--n-train-per-task", str(n_train_per_task)]
        argv += ["--quiet", "--device", "cpu"]
        if threads_per_run is not None:
            argv += ["--threads-per-run", str(threads_per_run)]
        return [*argv, *map(str, extra)]

    return make
