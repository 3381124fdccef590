"""The benchmark code itself (no timings are checked here: speed claims live in benchmarks/)."""

import time

import numpy as np
import pytest
import torch

from benchmarks import baseline, loss, phases, roofline
from benchmarks import run as bench_run


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


def test_flop_count_of_a_linear_layer_forward_and_backward():
    layer = torch.nn.Linear(100, 50)
    x = torch.randn(8, 100, requires_grad=True)
    # forward, grad of the input, grad of the weight: three 8 x 100 x 50 matmuls
    assert roofline.count_flops(lambda: layer(x).sum().backward()) == 3 * 2 * 8 * 100 * 50


def test_kernel_split_puts_matmul_time_with_the_arithmetic():
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    arithmetic, other = roofline.kernel_split_ms(lambda: a @ b, steps=2)
    assert arithmetic > 0 and other >= 0
    arithmetic, _ = roofline.kernel_split_ms(lambda: a + b, steps=2)
    assert arithmetic == 0


def test_roofline_report_prints_the_floor_and_the_targets(capsys):
    train = {
        "views": 256,
        "gflop": 18.0,
        "plain_ms": 200.0,
        "library_ms": 100.0,
        "library_arithmetic_ms": 60.0,
        "library_other_ms": 40.0,
        "library_bf16": True,
    }
    loss = {"gflop": 12.0, "ours_ms": 110.0, "pml_ms": 800.0}
    roofline.report({"fp32": 150.0, "bf16": 360.0}, train, loss)
    out = capsys.readouterr().out
    assert "all arithmetic at the bf16 matmul rate: 50.0 ms" in out  # 18 GFLOP / 360 GFLOP/s
    assert "needs <= 80.0 ms" in out  # 200 ms / 2.5
    assert "at the fp32 matmul rate 80.0 ms" in out and "needs <= 100.0 ms" in out


def test_whole_run_benchmark_passes_the_data_folder_as_an_absolute_path(monkeypatch, tmp_path):
    # d runs the earlier commit from a temporary folder, where a relative path would point elsewhere
    seen = {}
    monkeypatch.setattr(bench_run, "_cifar_found", lambda data_dir: True)
    monkeypatch.setattr(baseline, "run", lambda ref, argv, extra: seen.setdefault("argv", argv) and [])
    monkeypatch.setattr(baseline, "report", lambda rows, what: None)
    monkeypatch.chdir(tmp_path)
    assert bench_run.main(["--only", "d", "--data-dir", "data"]) == 0
    argv = seen["argv"]
    assert argv[argv.index("--data-dir") + 1] == str(tmp_path / "data")
