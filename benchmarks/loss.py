"""Benchmark c: ``SupConLoss`` forward + backward against a plain reference and pytorch-metric-learning.

Every implementation gets the same normalised projections ``(B, V, D)`` and
labels; the values must agree to 1e-4. Peak memory is the growth of the
resident set during one forward + backward, measured in a fresh child process
per implementation (so one implementation's allocations cannot hide
another's).
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from proglearn_supcon.training.losses import SupConLoss


def plain_supcon(z: torch.Tensor, labels: torch.Tensor, t: float) -> torch.Tensor:
    """L_out the textbook way: N x N masks, log-softmax, autograd backward."""
    B, V, D = z.shape
    zf = z.reshape(B * V, D)
    lab = labels.repeat_interleave(V)
    logits = zf @ zf.T / t
    eye = torch.eye(len(zf), dtype=torch.bool)
    log_prob = logits - torch.logsumexp(logits.masked_fill(eye, -math.inf), 1, keepdim=True)
    pos = (lab[:, None] == lab[None, :]) & ~eye
    n_pos = pos.sum(1)
    per_anchor = -(log_prob * pos).sum(1) / n_pos.clamp(min=1)
    return per_anchor[n_pos > 0].mean()


def _pml_loss(t: float):
    try:
        from pytorch_metric_learning.losses import SupConLoss as PMLSupConLoss
    except ImportError:
        return None
    pml = PMLSupConLoss(temperature=t)

    def loss(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        B, V, D = z.shape
        return pml(z.reshape(B * V, D), labels.repeat_interleave(V))

    return loss


def implementations(t: float) -> dict:
    impls = {
        "proglearn_supcon": SupConLoss(temperature=t),
        "plain reference": lambda z, y: plain_supcon(z, y, t),
    }
    pml = _pml_loss(t)
    if pml is not None:
        impls["pytorch-metric-learning"] = pml
    return impls


def make_inputs(batch: int, views: int, dim: int, n_classes: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, views, dim, generator=g)
    labels = torch.randint(0, n_classes, (batch,), generator=g)
    return x, labels


def _step(loss, x: torch.Tensor, labels: torch.Tensor) -> float:
    xi = x.clone().requires_grad_(True)
    value = loss(F.normalize(xi, dim=-1), labels)
    value.backward()
    return float(value.detach())


def time_losses(impls: dict, x, labels, repeats: int) -> dict[str, tuple[float, float]]:
    """name -> (value, median seconds of one forward + backward) after one warm-up each.

    The implementations take turns, so background load falls on all alike.
    """
    values = {name: _step(loss, x, labels) for name, loss in impls.items()}
    times: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(repeats):
        for name, loss in impls.items():
            start = time.perf_counter()
            _step(loss, x, labels)
            times[name].append(time.perf_counter() - start)
    return {name: (values[name], sorted(t)[len(t) // 2]) for name, t in times.items()}


def _peak_rss_kib() -> int:
    """Peak resident set of this process in KiB.

    Linux's VmHWM belongs to the address space made at exec; ru_maxrss is
    inherited from the parent through fork, so it would report the parent's
    peak in a child started from a large process.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child_peak(name: str, batch: int, views: int, dim: int, n_classes: int, t: float) -> None:
    """In a fresh process: print the RSS growth (MiB) of one forward + backward."""
    loss = implementations(t)[name]
    x, labels = make_inputs(batch, views, dim, n_classes)
    _step(loss, x[:8], labels[:8])  # load kernels and libraries before the baseline
    before = _peak_rss_kib()
    _step(loss, x, labels)
    print(json.dumps({"peak_mib": (_peak_rss_kib() - before) / 1024}))


def peak_memory_mib(name: str, batch: int, views: int, dim: int, n_classes: int, t: float) -> float:
    args = [sys.executable, "-m", "benchmarks.loss", name, str(batch), str(views), str(dim), str(n_classes), str(t)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def run(
    batch: int = 2048,
    views: int = 2,
    dim: int = 128,
    n_classes: int = 100,
    t: float = 0.1,
    repeats: int = 15,
    measure_memory: bool = True,
) -> list[dict]:
    """Time and measure every implementation; check the values agree to 1e-4."""
    x, labels = make_inputs(batch, views, dim, n_classes)
    rows = []
    for name, (value, seconds) in time_losses(implementations(t), x, labels, repeats).items():
        peak = peak_memory_mib(name, batch, views, dim, n_classes, t) if measure_memory else float("nan")
        rows.append({"implementation": name, "value": value, "seconds": seconds, "peak_mib": peak})
    reference = rows[0]["value"]
    for row in rows:
        if abs(row["value"] - reference) > 1e-4:
            raise AssertionError(
                f"{row['implementation']} gives {row['value']:.6f}, "
                f"proglearn_supcon {reference:.6f}: the losses disagree"
            )
    return rows


def report(rows: list[dict], batch: int, views: int, dim: int, n_classes: int) -> None:
    print(
        f"\nc) SupConLoss forward + backward, B={batch} x {views} views, D={dim}, "
        f"{n_classes} classes (median of the timed repeats, taken in turns; peak = RSS growth in a fresh process)"
    )
    ours = rows[0]["seconds"]
    print(f"  {'implementation':<26}{'value':>10}{'ms':>10}{'peak MiB':>10}{'ours is x faster':>18}")
    for row in rows:
        print(
            f"  {row['implementation']:<26}{row['value']:>10.5f}{1000 * row['seconds']:>10.1f}"
            f"{row['peak_mib']:>10.0f}{row['seconds'] / ours:>18.2f}"
        )


if __name__ == "__main__":
    name, batch, views, dim, n_classes, t = sys.argv[1:7]
    _child_peak(name, int(batch), int(views), int(dim), int(n_classes), float(t))
