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
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from . import loss as loss_bench
from . import training

#: Profiler op names of the kernels that do the network's arithmetic.
ARITHMETIC_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::mkldnn_convolution",
                  "aten::convolution_backward")


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


def _time_in_turns(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds per call of every step, calls taken in turns."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def run_training(batch: int = 128, n_views: int = 2, repeats: int = 10) -> dict:
    """FLOPs, measured time and kernel split of the plain fp32 step and the library's step."""
    device = torch.device("cpu")
    g = torch.Generator().manual_seed(0)
    views = torch.rand(batch, n_views, 3, 32, 32, generator=g)
    labels = torch.randint(0, 10, (batch,), generator=g)
    plain = training._Trainer(training.configs(device)[0], device)
    library = training._LibraryTrainer(device)
    steps = {"plain": lambda: plain.step(views, labels), "library": lambda: library.step(views, labels)}
    seconds = _time_in_turns(steps, repeats)
    arithmetic_ms, other_ms = kernel_split_ms(steps["library"])
    return {
        "views": batch * n_views,
        "gflop": count_flops(steps["library"]) / 1e9,
        "plain_ms": 1e3 * seconds["plain"],
        "library_ms": 1e3 * seconds["library"],
        "library_arithmetic_ms": arithmetic_ms,
        "library_other_ms": other_ms,
        "library_bf16": library.bf16,
    }


def run_loss(batch: int = 2048, views: int = 2, dim: int = 128, n_classes: int = 100, t: float = 0.1,
             repeats: int = 5) -> dict:
    """FLOPs of our loss and the measured times of ours and pytorch-metric-learning's (if installed)."""
    x, labels = loss_bench.make_inputs(batch, views, dim, n_classes)
    impls = loss_bench.implementations(t)
    ours = impls["proglearn_supcon"]
    timed = loss_bench.time_losses(impls, x, labels, repeats)
    return {
        "gflop": count_flops(lambda: loss_bench._step(ours, x, labels)) / 1e9,
        "ours_ms": 1e3 * timed["proglearn_supcon"][1],
        "pml_ms": 1e3 * timed["pytorch-metric-learning"][1] if "pytorch-metric-learning" in timed else None,
    }


def report(rates: dict[str, float], train: dict, loss: dict, throughput_target: float = 2.5,
           loss_target: float = 8.0) -> None:
    print("\ne) distance to the machine's arithmetic rate (median times, taken in turns)")
    print(f"  matmul rate, 2048^3: fp32 {rates['fp32']:.0f} GFLOP/s, bf16 {rates['bf16']:.0f} GFLOP/s")
    precision = "bf16" if train["library_bf16"] else "fp32"
    rate = rates[precision]
    print(f"  training step ({train['views']} views): {train['gflop']:.1f} GFLOP")
    print(f"    plain fp32 loop        {train['plain_ms']:7.1f} ms  "
          f"({1e3 * train['gflop'] / train['plain_ms']:.0f} GFLOP/s)")
    print(f"    library ({precision})         {train['library_ms']:7.1f} ms  "
          f"({1e3 * train['gflop'] / train['library_ms']:.0f} GFLOP/s; x{train['plain_ms'] / train['library_ms']:.2f})")
    print(f"      conv + matmul kernels {train['library_arithmetic_ms']:5.1f} ms, everything else "
          f"{train['library_other_ms']:.1f} ms (profiled, so a little slower)")
    print(f"    all arithmetic at the {precision} matmul rate: {1e3 * train['gflop'] / rate:.1f} ms; "
          f"x{throughput_target:g} the plain loop needs <= {train['plain_ms'] / throughput_target:.1f} ms")
    print(f"  SupConLoss forward + backward: {loss['gflop']:.1f} GFLOP, "
          f"at the fp32 matmul rate {1e3 * loss['gflop'] / rates['fp32']:.1f} ms; ours {loss['ours_ms']:.1f} ms")
    if loss["pml_ms"] is not None:
        print(f"    pytorch-metric-learning {loss['pml_ms']:.1f} ms: x{loss_target:g} faster needs "
              f"<= {loss['pml_ms'] / loss_target:.1f} ms")


def run() -> tuple[dict, dict, dict]:
    rates = {"fp32": matmul_rate(torch.float32), "bf16": matmul_rate(torch.bfloat16)}
    return rates, run_training(), run_loss()
