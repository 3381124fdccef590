"""Same seed, same machine, same thread count: the same numbers, bit for bit.

Each run trains in a fresh process at 2 threads, so thread scheduling (the
usual source of run-to-run differences on a CPU) is free to differ between
them; the embeddings and posteriors must not.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A CIFAR-shaped network (ProgLearn's CNN on 32x32x3 images) on two synthetic
# tasks, a few epochs of each loss; prints an MD5 of everything it computed.
_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np, torch
    torch.set_num_threads(2)
    from proglearn_supcon import LifelongClassificationNetwork
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(1200, 32, 32, 3), dtype=np.uint8)
    y = np.repeat(np.arange(4), 300)
    X[np.arange(1200), y * 8, :, y % 3] = 255  # a learnable mark per class
    net = LifelongClassificationNetwork(
        loss=sys.argv[1], epochs=2, min_epochs=0, batch_size=128, precision=sys.argv[2], random_state=0
    )
    net.add_task(X[:600], y[:600] % 2, task_id=0).add_task(X[600:], y[600:] % 2, task_id=1)
    digest = hashlib.md5()
    for task in (0, 1):
        digest.update(net.learner_.transform(X, task).tobytes())
        digest.update(net.predict_proba(X, task).tobytes())
    print(digest.hexdigest())
    """
)


def _run(loss: str, precision: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, loss, precision], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["supcon", "ce"])
def test_two_processes_give_identical_networks(loss):
    # "auto": the arithmetic this machine picks; CI runs the suite once with
    # bf16 detection forced on and once off, so both arithmetics are covered.
    assert _run(loss, "auto") == _run(loss, "auto")
