"""The benchmark code itself (no timings are checked here: speed claims live in benchmarks/)."""

import argparse
import json

import numpy as np
import pytest
import torch

from benchmarks import baseline, loss, phases, roofline, scaling, voter_storage
from benchmarks import run as bench_run
from proglearn_supcon.deciders import DECIDERS


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


# ------------------------------------------------------------------------- h) voter storage on the same transformers


def tiny_params(**overrides) -> dict:
    params = dict(
        loss="ce",
        epochs=1,
        validation_fraction=0.0,
        early_stopping="none",
        device="cpu",
        random_state=0,
        encoder=tiny_encoder,
        batch_size=8,
        verbose=False,
    )
    return {**params, **overrides}


@pytest.mark.slow  # three tiny networks' worth of voters
def test_voter_storage_rows_on_the_same_transformers():
    tasks = phases.synthetic_tasks(3, 2, 24, 10, seed=0)
    storage = [("float32", None), ("float16", None), ("float32", 32), ("float16", 4)]
    result = voter_storage.measure(tasks, tiny_params(), storage)
    assert result["variant"] == "ce" and result["reproduces_run"] is True and result["train_s"] > 0
    rows = {row["setting"]: row for row in result["rows"]}
    assert list(rows) == ["float32", "float16", "float32/32", "float16/4"]
    # voter_dim at the embedding's width (32) reduces nothing: the same accuracies, bit for bit.
    np.testing.assert_array_equal(rows["float32/32"]["accuracy"], rows["float32"]["accuracy"])
    assert rows["float32/32"]["max_abs_difference"] == 0.0
    assert rows["float16"]["voter_mb"] == pytest.approx(rows["float32"]["voter_mb"] / 2)
    assert rows["float16/4"]["voter_mb"] == pytest.approx(rows["float32"]["voter_mb"] / 16)
    for row in rows.values():
        accuracy = np.asarray(row["accuracy"], dtype=float)
        assert np.isfinite(np.tril(accuracy)).all() and np.isnan(accuracy[np.triu_indices(3, 1)]).all()
        assert row["final_accuracy"] == pytest.approx(np.mean(accuracy[-1]))
        assert row["max_abs_difference"] == pytest.approx(np.nanmax(np.abs(accuracy - rows["float32"]["accuracy"])))
        assert np.isfinite([row["fte"], row["final_bte"], row["final_te"]]).all()


def test_recompute_matches_the_experiments_record():
    tasks = phases.synthetic_tasks(3, 2, 16, 8, seed=2)
    net, record, _ = voter_storage.learn(tasks, tiny_params(random_state=5), quiet=True)
    accuracy, single = voter_storage.recompute(net, tasks, record)
    np.testing.assert_array_equal(accuracy, record.accuracy)
    np.testing.assert_array_equal(single, record.per_task["single_task_accuracy"])


@pytest.mark.slow  # the digits sequence, two tiny networks
def test_voter_storage_main_prints_the_machine_and_a_table_per_variant(monkeypatch, capsys, tmp_path):
    real = voter_storage.network_params
    monkeypatch.setattr(voter_storage, "network_params", lambda *a: {**real(*a), **tiny_params(loss=a[1])})
    out_json = tmp_path / "rows.json"
    argv = ["--dataset", "digits", "--n-tasks", "2", "--variants", "supcon", "ce", "--quiet"]
    assert voter_storage.main([*argv, "--storage", "float32", "bfloat16/8", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine:") and "h) voter storage" in out and "shift 6 slot 0" in out
    assert out.count("float32 reproduces the run: yes") == 2 and out.count("bfloat16/8") >= 2
    saved = json.loads(out_json.read_text())
    assert [r["variant"] for r in saved] == ["supcon", "ce"] and len(saved[0]["rows"]) == 2
    assert voter_storage.main([*argv, "--variants", "nosuchloss"]) == 2
    assert "loss" in capsys.readouterr().err


def test_voter_storage_hands_network_params_every_option_it_reads(monkeypatch, capsys):
    # Fast: a bad loss stops main after network_params has built each run's
    # parameters, so a Namespace missing an option (the CI failure of 6d92828:
    # no ``recipe``) fails here without training anything.
    seen = []
    real = voter_storage.network_params
    monkeypatch.setattr(voter_storage, "network_params", lambda *a: seen.append(real(*a)) or seen[-1])
    argv = ["--dataset", "digits", "--n-tasks", "2", "--quiet", "--recipe", "fixed-budget", "--variants", "nosuch"]
    assert voter_storage.main(argv) == 2
    assert "loss" in capsys.readouterr().err
    assert seen and seen[0]["validation_fraction"] == 0.0 and seen[0]["ema_decay"] == 0.9


def test_decider_benchmark_builds_every_voter_and_decider(monkeypatch, capsys, tmp_path):
    from benchmarks import deciders as bench

    built = []
    real = bench.TaskDeciders.decider

    def spy(self, name, task_id, ids, voters, task):
        built.append((name, task_id, tuple(ids)))
        return real(self, name, task_id, ids, voters, task)

    monkeypatch.setattr(bench.TaskDeciders, "decider", spy)
    (tmp_path / "ce").mkdir()
    (tmp_path / "ce" / "shift1_slot0.json").write_text(json.dumps({"config": {"started_at": 10, "finished_at": 30}}))
    recorded = {"config": {"started_at": 0, "finished_at": 40}, "tasks": [{"decider_time_s": 0.5}] * 2}
    (tmp_path / "ce" / "shift2_slot0.json").write_text(json.dumps(recorded))
    argv = ["--n-tasks", "3", "--n-train", "40", "--n-test", "10", "--dim", "8", "--n-classes", "2"]
    assert bench.main([*argv, "--runs", str(tmp_path), "--threads", "1"]) == 0
    # After task t, every task that gained a voter is refitted over transformers 0..t, with each learned decider.
    learned = len(DECIDERS) - 1  # all but the average
    assert len(built) == learned * (1 + 2 + 3)
    assert ("shrunk-em", 0, (0, 1, 2)) in built and ("best-k", 2, (0, 1, 2)) in built
    out = capsys.readouterr().out
    assert "learned deciders / test posteriors:" in out and "mean wall 30 s" in out
    # Only the file that records its decider's seconds gives the recorded share: 1 s of 40 s.
    assert "their decider took 2.50% of their wall time (mean of 1;" in out
    # The default is fitted first at each step (it pays for the EM the other shrunk-EM deciders share).
    default = bench.HYPERPARAMS["decider"].default
    firsts = {}
    for name, task_id, ids in built:
        firsts.setdefault((task_id, ids), name)
    assert set(firsts.values()) == {default}


@pytest.mark.slow
def test_time_to_accuracy_runs_each_recipe_resumes_and_reports(monkeypatch, capsys, tmp_path):
    from benchmarks import time_to_accuracy as tta

    real_argv = tta.run_argv

    def digits(data_dir, variant, params, *, slot=None):  # tiny runs of the same shape, offline
        argv = real_argv(None, variant, {**params, "epochs": 1}, slot=slot)
        argv[argv.index("cifar100")] = "digits"
        return argv + (["--n-tasks", "2"] if slot is not None else [])

    monkeypatch.setattr(tta, "run_argv", digits)
    argv = ["--out", str(tmp_path), "--variants", "ce", "--slots", "1", "--plot", str(tmp_path / "tta.png")]
    assert tta.main([*argv, "--rotation-angle", "90"]) == 0
    out = capsys.readouterr().out
    assert "machine:" in out and all(
        f"{name} ce slot 1" in out for name in ("early-stopping", "fixed-budget", "whitened")
    )
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("early-stopping ", "fixed-budget "))]
    table = {row[0]: row for row in rows if len(row) == 9}
    assert table["early-stopping"][4] == "1.00" and table["early-stopping"][7] == "+0.0000"
    assert "rotation angle-run (90 degrees" in out and (tmp_path / "tta.png").stat().st_size > 0
    for recipe in ("early-stopping", "fixed-budget", "whitened"):
        assert (tmp_path / recipe / "ce" / "shift6_slot1.json").exists()
    assert tta.main(argv) == 0  # finished runs are read, not run again
    again = capsys.readouterr().out
    assert "ce slot 1:" not in again and "early-stopping    ce" in again
