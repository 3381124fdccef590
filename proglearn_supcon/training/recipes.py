"""Named training recipes: sets of network parameters that belong together.

A recipe is a dictionary of parameters of
:class:`~proglearn_supcon.network.LifelongClassificationNetwork` (and of its
transformers); pass it as ``LifelongClassificationNetwork(**RECIPES[name])``,
or on the command line as ``proglearn-supcon run --recipe NAME``. Every
recipe spells out the same parameters, also where they equal today's
defaults, so that a recipe keeps meaning the same training when a default
changes, and switching recipes changes everything a recipe is about.

``"whitened"`` (the defaults)
    30 epochs whose cosine schedule ends at zero, one augmented view of each
    image per step, every image of the transformer's share trained on (no
    validation split), an exponential moving average of the weights, and a
    first convolution fixed to whiten the task's image patches
    (:mod:`~proglearn_supcon.training.whitening`). Chosen on held-out
    CIFAR-100 runs (shift 6) by issue 32's rule: the shortest budget of the
    whitened curve (30, 40 epochs) whose final accuracy is within 0.003 of
    the old default's for both losses; it trains a 10x10 run in about 0.4 of
    the old default's time, 1-2 points more accurate there
    (docs/performance.md k).
``"early-stopping"`` (the defaults before issue 32)
    Up to 100 epochs with a 5-epoch warm-up and cosine decay over all 100,
    two augmented views of each image per step, a third of the transformer's
    share held out to keep the epoch of best validation kNN accuracy
    (patience 20, from epoch 10 on), the trained weights themselves. A 10x10
    CIFAR-100 task trains 49-66 epochs.
``"fixed-budget"``
    60 epochs whose cosine schedule ends at zero, one augmented view of each
    image per step, every image of the transformer's share trained on (no
    validation split, so nothing is selected), and an exponential moving
    average of the weights (:mod:`~proglearn_supcon.training.weight_average`).
    On held-out CIFAR-100 runs (shift 6): about the early-stopping recipe's
    accuracy in about two thirds of its time (docs/performance.md k).
"""

from __future__ import annotations

__all__ = ["RECIPES"]

#: Recipe name -> the parameters that make it (see the module's description).
RECIPES: dict[str, dict[str, object]] = {
    "whitened": {
        "epochs": 30,
        "lr": 2e-3,
        "lr_schedule": "cosine",
        "warmup_epochs": 5,
        "ema_decay": 0.9,
        "n_views": 1,
        "whiten_first_conv": True,
        "validation_fraction": 0.0,
        # no validation split: the next four have no effect
        "early_stopping": "knn",
        "patience": 20,
        "min_epochs": 10,
        "validation_interval": 1,
    },
    "early-stopping": {
        "epochs": 100,
        "lr": 2e-3,
        "lr_schedule": "cosine",
        "warmup_epochs": 5,
        "ema_decay": 0.0,
        "n_views": 2,
        "whiten_first_conv": False,
        "validation_fraction": 0.33,
        "early_stopping": "knn",
        "patience": 20,
        "min_epochs": 10,
        "validation_interval": 1,
    },
    "fixed-budget": {
        "epochs": 60,
        "lr": 2e-3,
        "lr_schedule": "cosine",
        "warmup_epochs": 5,
        "ema_decay": 0.9,
        "n_views": 1,
        "whiten_first_conv": False,
        "validation_fraction": 0.0,
        # no validation split: the next four have no effect
        "early_stopping": "knn",
        "patience": 20,
        "min_epochs": 10,
        "validation_interval": 1,
    },
}
