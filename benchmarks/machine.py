"""Machine facts printed at the top of every benchmark report."""

from __future__ import annotations

import os
import platform

import torch

from proglearn_supcon.experiments.run_record import cpu_name


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
