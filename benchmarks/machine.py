"""Machine facts printed at the top of every benchmark report."""

from __future__ import annotations

import os
import platform

import torch


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts(device: torch.device) -> dict[str, str]:
    """CPU, cores, torch build and threads, and the device the benchmark runs on."""
    from proglearn_supcon.precision import native_bf16

    facts = {
        "cpu": f"{cpu_name()} ({platform.machine()})",
        "cores": str(os.cpu_count()),
        "torch": f"{torch.__version__} (threads {torch.get_num_threads()})",
        "cpu native bf16": str(native_bf16(torch.device("cpu"))),
        "device": str(device),
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts


def print_facts(facts: dict[str, str]) -> None:
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        print(f"  {key:<{width}}  {value}")
