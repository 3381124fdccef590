"""GPU smoke tests: run where CUDA is present, skipped elsewhere (CI has no GPU)."""

import numpy as np
import pytest
import torch

from proglearn_supcon import LifelongClassificationNetwork

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_cuda_add_task_and_predict(blob_images, fast_params):
    X, y = blob_images([0, 1, 2], 30, seed=0)
    X_test, y_test = blob_images([0, 1, 2], 20, seed=1)
    net = LifelongClassificationNetwork(random_state=0, **fast_params(device="cuda")).add_task(X, y, task_id=0)
    transformer = net.learner_.transformers_[0]
    assert next(transformer.encoder_.parameters()).is_cuda
    assert np.mean(net.predict(X_test, task_id=0) == y_test) > 0.8  # chance is 1/3


def test_cuda_predictions_match_cpu(blob_images, fast_params, tmp_path):
    """A network trained on the CPU predicts the same on CUDA (fp32 on both, to a tolerance)."""
    X, y = blob_images([0, 1, 2], 30, seed=0)
    X_test, _ = blob_images([0, 1, 2], 20, seed=1)
    net = LifelongClassificationNetwork(random_state=0, precision="fp32", **fast_params()).add_task(X, y, task_id=0)
    on_cpu = net.predict_proba(X_test, task_id=0)
    net.save(tmp_path / "net.pt")
    on_gpu = LifelongClassificationNetwork.load(tmp_path / "net.pt", device="cuda").predict_proba(X_test, task_id=0)
    # kNN posteriors move in steps of 1/k: allow a neighbour to swap on a near tie in a few rows
    assert np.mean(np.abs(on_gpu - on_cpu).max(axis=1) < 1e-6) >= 0.95
    assert np.mean(on_gpu.argmax(1) == on_cpu.argmax(1)) >= 0.95
