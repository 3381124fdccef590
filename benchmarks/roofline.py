"""Benchmark e: how far the timed paths are from this machine's arithmetic rate.

a) and c) give ratios; this part says what bounds them. It measures the
machine's dense matmul rate (GFLOP/s of a large square matmul, fp32 and
bf16), counts the floating-point operations of one training step and of one
SupCon forward + backward with ``torch.utils.flop_counter``, and prints:

* for the training step: the time the library step spends in its
  convolution and matmul kernels and in everything else (from the torch
  profiler), and the time a step would need to reach a given speed-up over
  the plain fp32 loop;
* for the loss: the time the loss's own matmuls need at the fp32 matmul rate
  (the loss must stay in fp32 to give the same value to 1e-4), against the
  time that would be ``target`` times faster than pytorch-metric-learning.

The step and loss times are those benchmarks a and c measured in the same
run; e measures them itself (the same way) only when a or c did not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from . import loss as loss_bench
from . import training

#: Profiler op names of the kernels that do the network's arithmetic.
ARITHMETIC_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::mkldnn_convolution", "aten::convolution_backward")


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations (multiply and add counted apart) of ``fn()``, backward included if it runs one."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_rate(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an ``n x n`` by ``n x n`` matmul in ``dtype`` on the CPU."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    a @ b  # warm-up: thread pool and kernel selection
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def kernel_split_ms(step: Callable[[], None], steps: int = 5) -> tuple[float, float]:
    """(ms in convolution/matmul kernels, ms in everything else) per ``step()``, from the profiler."""
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    arithmetic = sum(e.self_cpu_time_total for e in events if e.key in ARITHMETIC_OPS)
    total = sum(e.self_cpu_time_total for e in events)
    return arithmetic / steps / 1e3, (total - arithmetic) / steps / 1e3


def run_training(rows: list[dict] | None = None, batch: int = 128, n_views: int = 2) -> dict:
    """FLOPs and kernel split of the library's training step, with the step times of benchmark a.

    ``rows`` are benchmark a's results on the CPU (``training.run``); they are
    measured here when not given.
    """
    device = torch.device("cpu")
    rows = rows if rows is not None else training.run(device, batch=batch, n_views=n_views)
    plain_row = rows[0]  # the baseline comes first
    (library_row,) = [row for row in rows if row["config"].startswith("library")]
    g = torch.Generator().manual_seed(0)
    views = torch.rand(batch, n_views, 3, 32, 32, generator=g)
    labels = torch.randint(0, 10, (batch,), generator=g)
    library = training._LibraryTrainer(device)

    def step() -> None:
        library.step(views, labels)

    arithmetic_ms, other_ms = kernel_split_ms(step)
    n = batch * n_views
    return {
        "views": n,
        "gflop": count_flops(step) / 1e9,
        "plain_ms": 1e3 * n / plain_row["views_per_s"],
        "library_ms": 1e3 * n / library_row["views_per_s"],
        "library_arithmetic_ms": arithmetic_ms,
        "library_other_ms": other_ms,
        "library_bf16": library.bf16,
    }


def run_loss(
    rows: list[dict] | None = None,
    batch: int = 2048,
    views: int = 2,
    dim: int = 128,
    n_classes: int = 100,
    t: float = 0.1,
) -> dict:
    """FLOPs of our loss, with the times of ours and pytorch-metric-learning's from benchmark c.

    ``rows`` are benchmark c's results (``loss.run``) at the same sizes; they
    are measured here (without the memory part) when not given.
    """
    if rows is None:
        rows = loss_bench.run(batch, views, dim, n_classes, t, measure_memory=False)
    seconds = {row["implementation"]: row["seconds"] for row in rows}
    x, labels = loss_bench.make_inputs(batch, views, dim, n_classes)
    ours = loss_bench.implementations(t)["proglearn_supcon"]
    pml = seconds.get("pytorch-metric-learning")
    return {
        "gflop": count_flops(lambda: loss_bench._step(ours, x, labels)) / 1e9,
        "ours_ms": 1e3 * seconds["proglearn_supcon"],
        "pml_ms": None if pml is None else 1e3 * pml,
    }


def report(
    rates: dict[str, float], train: dict, loss: dict, throughput_target: float = 2.5, loss_target: float = 8.0
) -> None:
    print("\ne) distance to the machine's arithmetic rate (step and loss times from a and c)")
    print(f"  matmul rate, 2048^3: fp32 {rates['fp32']:.0f} GFLOP/s, bf16 {rates['bf16']:.0f} GFLOP/s")
    precision = "bf16" if train["library_bf16"] else "fp32"
    rate = rates[precision]
    print(f"  training step ({train['views']} views): {train['gflop']:.1f} GFLOP")
    print(
        f"    plain fp32 loop        {train['plain_ms']:7.1f} ms  "
        f"({1e3 * train['gflop'] / train['plain_ms']:.0f} GFLOP/s)"
    )
    print(
        f"    library ({precision})         {train['library_ms']:7.1f} ms  "
        f"({1e3 * train['gflop'] / train['library_ms']:.0f} GFLOP/s; x{train['plain_ms'] / train['library_ms']:.2f})"
    )
    print(
        f"      conv + matmul kernels {train['library_arithmetic_ms']:5.1f} ms, everything else "
        f"{train['library_other_ms']:.1f} ms (profiled alone, not in turns)"
    )
    print(
        f"    all arithmetic at the {precision} matmul rate: {1e3 * train['gflop'] / rate:.1f} ms; "
        f"x{throughput_target:g} the plain loop needs <= {train['plain_ms'] / throughput_target:.1f} ms"
    )
    print(
        f"  SupConLoss forward + backward: {loss['gflop']:.1f} GFLOP, "
        f"at the fp32 matmul rate {1e3 * loss['gflop'] / rates['fp32']:.1f} ms; ours {loss['ours_ms']:.1f} ms"
    )
    if loss["pml_ms"] is not None:
        print(
            f"    pytorch-metric-learning {loss['pml_ms']:.1f} ms: x{loss_target:g} faster needs "
            f"<= {loss['pml_ms'] / loss_target:.1f} ms"
        )


def run(training_rows: list[dict] | None = None, loss_rows: list[dict] | None = None) -> tuple[dict, dict, dict]:
    """Matmul rates, training-step and loss figures; reuses a's (CPU) and c's rows when given."""
    rates = {"fp32": matmul_rate(torch.float32), "bf16": matmul_rate(torch.bfloat16)}
    return rates, run_training(training_rows), run_loss(loss_rows)
