"""An exponential moving average (EMA) of a model's weights, the weights a transformer keeps.

Fast CIFAR recipes (airbench, hlb-CIFAR10) evaluate an average of the
weights over the last steps rather than the last step's weights: the average
sits nearer the middle of the basin the optimiser wanders in, which is worth
most when the budget is short and the learning rate has not yet decayed.

After update ``n`` (1-based) every floating-point entry of each module's
``state_dict`` (parameters and BatchNorm running statistics alike) becomes

.. math::

    \\bar w_n = d_n \\bar w_{n-1} + (1 - d_n) w_n, \\qquad
    d_n = \\min\\Big(d, \\frac{1 + n}{10 + n}\\Big),

with ``d = decay``; integer entries (BatchNorm's batch counter) are copied.
The warm-up of ``d_n`` (TensorFlow's ``num_updates`` rule) keeps the
average from holding on to the random initialisation on a short run: a task
of 500 CIFAR images is three steps an epoch.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ExponentialWeightAverage"]


class ExponentialWeightAverage:
    """Averaged copies of ``modules``, updated from them after each optimiser step.

    Parameters
    ----------
    modules : list of nn.Module
        The modules being trained (e.g. an encoder and its head); copied
        once, here, and read at each :meth:`update`.
    decay : float in (0, 1)
        Largest weight of the previous average, ``d`` above.

    Attributes
    ----------
    averaged : list of nn.Module
        The averaged copies, in the order of ``modules``, without gradients;
        evaluate these.
    n_updates : int
        Updates so far.
    """

    def __init__(self, modules: list[nn.Module], decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self.averaged = [copy.deepcopy(module).requires_grad_(False) for module in modules]
        self.n_updates = 0

    def current_decay(self) -> float:
        """``d_n`` of the next update."""
        n = self.n_updates + 1
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, modules: list[nn.Module]) -> None:
        """Move the averages towards the current weights of ``modules`` (same order as at construction)."""
        weight = 1.0 - self.current_decay()
        averages, currents = [], []
        for averaged, module in zip(self.averaged, modules, strict=True):
            for avg, current in zip(averaged.state_dict().values(), module.state_dict().values(), strict=True):
                if avg.is_floating_point():
                    averages.append(avg)
                    currents.append(current.detach())
                else:  # counters: the average of a count means nothing
                    avg.copy_(current)
        if averages:
            torch._foreach_lerp_(averages, currents, weight)
        self.n_updates += 1

    def copy_to(self, modules: list[nn.Module]) -> None:
        """Load the averaged weights into ``modules``."""
        for averaged, module in zip(self.averaged, modules, strict=True):
            module.load_state_dict(averaged.state_dict())
