"""The benchmark code itself (no timings are checked here: speed claims live in benchmarks/)."""

import time

import numpy as np
import pytest

from benchmarks import loss, phases


def test_phase_timer_counts_nested_time_for_the_inner_phase_only():
    timer = phases.PhaseTimer()
    inner = timer.wrap("inner", lambda: time.sleep(0.05))

    def outer():
        time.sleep(0.02)
        inner()
        time.sleep(0.02)

    timer.wrap("outer", outer)()
    assert timer.seconds["inner"] == pytest.approx(0.05, abs=0.02)
    assert timer.seconds["outer"] == pytest.approx(0.04, abs=0.02)


def test_loss_benchmark_implementations_agree():
    rows = loss.run(batch=64, views=2, dim=16, n_classes=8, repeats=1, measure_memory=False)
    names = [r["implementation"] for r in rows]
    assert names[:2] == ["proglearn_supcon", "plain reference"]
    values = [r["value"] for r in rows]
    np.testing.assert_allclose(values, values[0], atol=1e-4)


def test_synthetic_tasks_have_the_protocol_shapes():
    tasks = phases.synthetic_tasks(n_tasks=2, n_train=50, n_test=20)
    assert [t.X_train.shape for t in tasks] == [(50, 32, 32, 3)] * 2
    assert tasks[1].classes.tolist() == list(range(10, 20)) and set(tasks[1].y_test) <= set(tasks[1].classes)
