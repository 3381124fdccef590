"""The benchmark code itself (no timings are checked here: speed claims live in benchmarks/)."""

import argparse
import json

import numpy as np
import pytest
import torch

from benchmarks import baseline, loss, phases, roofline, scaling
from benchmarks import run as bench_run


def test_phase_timer_counts_nested_time_for_the_inner_phase_only(monkeypatch):
    # A fake clock that only the fake sleeps advance: exact, whatever the machine's load.
    clock = [100.0]
    monkeypatch.setattr(phases.time, "perf_counter", lambda: clock[0])

    def sleep(seconds):
        clock[0] += seconds

    timer = phases.PhaseTimer()
    inner = timer.wrap("inner", lambda: sleep(0.05))

    def outer():
        sleep(0.02)
        inner()
        sleep(0.03)

    timer.wrap("outer", outer)()
    assert timer.seconds["inner"] == pytest.approx(0.05, abs=1e-9)
    assert timer.seconds["outer"] == pytest.approx(0.05, abs=1e-9)


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


# ----------------------------------------------------------------------------- g) scaling in the number of tasks


def tiny_encoder(input_shape):
    """A linear layer on the pixels: the scaling benchmark's bookkeeping without a CNN to train."""
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(int(np.prod(input_shape)), 32), torch.nn.ReLU())


def test_growth_exponent_of_a_power_law():
    counts = np.array([5, 10, 20, 50])
    assert scaling.growth_exponent(counts, 3.0 * counts**1.7) == pytest.approx(1.7, abs=1e-12)
    assert scaling.growth_exponent(counts, np.full(4, 2.5)) == pytest.approx(0.0, abs=1e-12)
    noisy = 0.2 * counts**2.0 * np.array([1.05, 0.97, 1.02, 0.99])
    assert scaling.growth_exponent(counts, noisy) == pytest.approx(2.0, abs=0.05)
    assert np.isnan(scaling.growth_exponent(counts, [1.0, 0.0, 2.0, 3.0]))  # no power law has a zero
    with pytest.raises(ValueError, match="two distinct"):
        scaling.growth_exponent([10, 10], [1.0, 2.0])
    with pytest.raises(ValueError, match="one value per task count"):
        scaling.growth_exponent([5, 10, 20], [1.0, 2.0])


def test_storage_settings():
    assert scaling.storage_setting("float16/300") == ("float16", 300)
    assert scaling.storage_setting("bfloat16") == ("bfloat16", None)
    assert scaling.setting_name(("float16", 300)) == "float16/300"
    assert scaling.setting_name(("float32", None)) == "float32"
    for bad in ("float64", "float16/0", "float16/x", "float16/-3"):
        with pytest.raises(argparse.ArgumentTypeError):
            scaling.storage_setting(bad)


@pytest.mark.slow  # a few tiny networks, and a gc.collect before each run
def test_scaling_rows_on_tiny_synthetic_tasks():
    results = scaling.run(
        [2, 4],
        [("float32", None), ("float16", 8)],
        n_classes=8,
        n_train=24,
        n_test=8,
        extra_params={"encoder": tiny_encoder, "batch_size": 8},
        print_rows=False,
    )
    assert list(results) == ["float32", "float16/8"]
    for rows in results.values():
        assert [r["n_tasks"] for r in rows] == [2, 4] and [r["classes_per_task"] for r in rows] == [4, 2]
        for row in rows:
            assert all(len(row["per_task"][phase]) == row["n_tasks"] for phase in scaling.PHASES)
            assert all(min(row["per_task"][phase]) >= 0 for phase in scaling.PHASES)
            assert row["training"] > 0 and row["predict_s"] > 0 and row["peak_mb"] > 0
            assert 0 <= row["final_accuracy"] <= 1
        # Fixed data per task: the voters' rows grow with T x T (a bit faster while the own voters' share shrinks).
        assert 2.0 <= scaling.exponents(rows)["voter_mb"] <= 2.5
    # 8 of 32 dimensions in 2 of 4 bytes, for the same voter rows.
    for full, lean in zip(*results.values()):
        assert lean["voter_mb"] / full["voter_mb"] == pytest.approx(1 / 8)


@pytest.mark.slow  # a few tiny networks, and a gc.collect before each run
def test_scaling_main_prints_the_machine_the_tables_and_the_ratios(monkeypatch, capsys, tmp_path):
    real_run = scaling.run
    monkeypatch.setattr(scaling, "run", lambda *a, **k: real_run(*a, **k, extra_params={"encoder": tiny_encoder}))
    monkeypatch.setattr(bench_run, "_cifar_found", lambda data_dir: False)
    out_json = tmp_path / "rows.json"
    argv = ["--tasks", "2", "3", "--n-classes", "6", "--n-train-per-task", "12", "--n-test-per-task", "6"]
    assert scaling.main([*argv, "--storage", "float32", "bfloat16/4", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine:") and "synthetic 32x32 data (CIFAR-100 not found)" in out
    assert out.count("exponent") == 2 and "against float32" in out and "bfloat16/4 T=3" in out
    saved = json.loads(out_json.read_text())
    assert [r["n_tasks"] for r in saved["results"]["bfloat16/4"]] == [2, 3]
    assert scaling.main([*argv, "--n-classes", "5"]) == 2  # 5 classes cannot give 3 tasks of 2
    assert "fewer than 2 classes" in capsys.readouterr().err
