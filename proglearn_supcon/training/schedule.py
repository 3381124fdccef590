"""The learning-rate schedule of a transformer's training: a warm-up, then cosine, linear or constant.

:func:`lr_factor` is the multiplier of the optimiser's learning rate in each
epoch; the training engine (:mod:`proglearn_supcon.training.engine`) steps it
once an epoch.
"""

from __future__ import annotations

import math
from typing import Protocol

__all__ = ["LR_SCHEDULES", "ScheduleConfig", "lr_factor"]

#: Learning-rate schedules after the warm-up.
LR_SCHEDULES = ("cosine", "constant", "linear")


class ScheduleConfig(Protocol):
    """What the schedule reads of a :class:`~proglearn_supcon.training.engine.TrainingConfig`."""

    epochs: int
    warmup_epochs: int
    lr_schedule: str


def lr_factor(epoch: int, config: ScheduleConfig) -> float:
    """Learning-rate multiplier of ``epoch`` (0-based): linear warm-up, then cosine, linear or constant.

    The warm-up is ``w = min(warmup_epochs, epochs - 1)`` epochs from
    ``1 / (w + 1)`` to 1, so a short budget still reaches the full rate.
    After it, with ``p = (epoch - w) / (epochs - w)``, the multiplier is
    ``(1 + cos(pi p)) / 2`` ("cosine"), ``1 - p`` ("linear") or 1
    ("constant"): cosine and linear reach 0 at ``epoch = epochs``, the end
    of the budget, so a run that trains all its epochs ends annealed.
    """
    warmup = min(config.warmup_epochs, config.epochs - 1)
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    if config.lr_schedule == "constant":
        return 1.0
    progress = (epoch - warmup) / (config.epochs - warmup)
    if config.lr_schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))
