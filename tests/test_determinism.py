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


def test_deterministic_algorithms_on_only_inside_the_block():
    import torch

    from proglearn_supcon.determinism import deterministic_algorithms

    assert not torch.are_deterministic_algorithms_enabled()
    fill = torch.utils.deterministic
    before = fill.fill_uninitialized_memory
    with deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert fill.fill_uninitialized_memory is False  # a debugging aid that costs time
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic
    assert fill.fill_uninitialized_memory == before
    with pytest.raises(RuntimeError), deterministic_algorithms(True):
        raise RuntimeError("restored on errors too")
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_algorithms(False):
        assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("deterministic", [True, False])
def test_transformer_trains_and_embeds_under_its_setting(monkeypatch, deterministic):
    import numpy as np
    import torch

    from proglearn_supcon import transformers
    from proglearn_supcon.training import fitting

    seen = []
    real_train, real_embed = fitting.train, transformers.embed

    def spy(real):
        def wrapped(*args, **kwargs):
            seen.append(torch.are_deterministic_algorithms_enabled())
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(fitting, "train", spy(real_train))
    monkeypatch.setattr(transformers, "embed", spy(real_embed))
    X, y = np.random.default_rng(0).random((40, 5)).astype(np.float32), np.arange(40) % 2
    tr = transformers.NeuralClassificationTransformer(epochs=1, batch_size=8, deterministic=deterministic).fit(X, y)
    tr.transform(X)
    assert seen == [deterministic, deterministic] and not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(ValueError, match="deterministic must be True or False"):
        transformers.NeuralClassificationTransformer(deterministic="yes").fit(X, y)


def test_transformer_pickled_before_the_parameter_loads_with_the_old_behaviour():
    import pickle

    import numpy as np

    from proglearn_supcon.transformers import NeuralClassificationTransformer

    X, y = np.random.default_rng(1).random((30, 4)).astype(np.float32), np.arange(30) % 2
    tr = NeuralClassificationTransformer(epochs=1, batch_size=8).fit(X, y)
    state = dict(tr.__getstate__())  # a copy: in Python 3.11 this is the instance's own dict
    del state["deterministic"]
    old = pickle.loads(pickle.dumps(tr))
    old.__dict__.clear()
    old.__setstate__(state)
    assert old.get_params()["deterministic"] is False
    np.testing.assert_array_equal(old.transform(X), tr.transform(X))
