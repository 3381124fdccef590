"""The training objectives: one per loss a transformer can be trained with, and their registry.

An objective says everything the training loop must know about a loss:

* :meth:`Objective.head`: the module trained on top of the encoder (a
  projection head for the contrastive losses, a linear classifier for
  cross-entropy);
* :meth:`Objective.criterion`: the loss module, with its hyper-parameters;
* :meth:`Objective.feed`: how the head's outputs of a batch of views, and the
  batch's labels, are handed to the criterion. The contrastive losses compare
  the views of a sample with each other, so they take the views grouped per
  sample; cross-entropy scores each view on its own.

:data:`OBJECTIVES` maps the ``loss`` parameter's values to objectives. The
parameter checks and the command line's ``--variant`` choices read it
(:func:`loss_names`, :func:`get_objective`), so adding a loss means writing
one objective and registering it with :func:`register`; nothing else in the
estimator or the engine branches on the loss.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from proglearn_supcon.training.encoders import ProjectionHead
from proglearn_supcon.training.losses import SupConLoss, TunedContrastiveLoss

__all__ = [
    "OBJECTIVES",
    "ContrastiveObjective",
    "CrossEntropyObjective",
    "Objective",
    "SupConObjective",
    "TunedContrastiveObjective",
    "get_objective",
    "loss_names",
    "register",
]


class Objective(ABC):
    """What training with one loss needs: its head, its criterion and how a batch is fed to it.

    Objectives hold no state (the hyper-parameters come with each call), so
    one registered instance serves every transformer.

    Attributes
    ----------
    name : str
        The ``loss`` parameter's value that selects this objective.
    """

    name: str

    @abstractmethod
    def head(self, embedding_dim: int, n_classes: int, hidden_dim: int, projection_dim: int) -> nn.Module:
        """A fresh, randomly initialised head on encoder outputs of width ``embedding_dim``.

        Parameters
        ----------
        embedding_dim : int
            Width of the encoder's output.
        n_classes : int
            Classes of the task.
        hidden_dim, projection_dim : int
            The transformer's ``projection_hidden_dim`` and ``projection_dim``
            (used by a projection head).

        Returns
        -------
        nn.Module
            Maps (n, embedding_dim) to (n, D).
        """

    @abstractmethod
    def criterion(self, config) -> nn.Module:
        """The loss module.

        Parameters
        ----------
        config : TrainingConfig
            Or any object with the loss hyper-parameters as attributes
            (``temperature``, ``tcl_k1``, ``tcl_k2``, ``label_smoothing``).
        """

    @abstractmethod
    def feed(self, outputs: torch.Tensor, labels: torch.Tensor, n_views: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The criterion's arguments for one batch.

        Parameters
        ----------
        outputs : Tensor of shape (B * n_views, D), float32
            Head outputs, the views of a sample adjacent (sample-major order).
        labels : Tensor of shape (B,), int64
            One label per sample.
        n_views : int
            Views per sample (1 for the validation loss, which sees each
            input once, un-augmented).

        Returns
        -------
        (Tensor, Tensor)
            Called as ``criterion(*objective.feed(outputs, labels, n_views))``.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class ContrastiveObjective(Objective):
    """A supervised contrastive loss: projection head, views grouped per sample."""

    def head(self, embedding_dim: int, n_classes: int, hidden_dim: int, projection_dim: int) -> nn.Module:
        """:class:`~proglearn_supcon.training.encoders.ProjectionHead` (its output is L2-normalised)."""
        return ProjectionHead(embedding_dim, hidden_dim, projection_dim)

    def feed(self, outputs: torch.Tensor, labels: torch.Tensor, n_views: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Projections as (B, n_views, D) and the labels (B,): the loss pairs the views itself."""
        return outputs.reshape(len(labels), n_views, -1), labels


class SupConObjective(ContrastiveObjective):
    """The supervised contrastive loss (:class:`~proglearn_supcon.training.losses.SupConLoss`)."""

    name = "supcon"

    def criterion(self, config) -> nn.Module:
        """``SupConLoss(temperature=config.temperature)``."""
        return SupConLoss(temperature=config.temperature)


class TunedContrastiveObjective(ContrastiveObjective):
    """The Tuned Contrastive loss (:class:`~proglearn_supcon.training.losses.TunedContrastiveLoss`)."""

    name = "tcl"

    def criterion(self, config) -> nn.Module:
        """``TunedContrastiveLoss`` with ``config.temperature``, ``config.tcl_k1`` and ``config.tcl_k2``."""
        return TunedContrastiveLoss(temperature=config.temperature, k1=config.tcl_k1, k2=config.tcl_k2)


class CrossEntropyObjective(Objective):
    """Cross-entropy: a linear classifier head, every view a sample of its own."""

    name = "ce"

    def head(self, embedding_dim: int, n_classes: int, hidden_dim: int, projection_dim: int) -> nn.Module:
        """``nn.Linear(embedding_dim, n_classes)``: the logits."""
        return nn.Linear(embedding_dim, n_classes)

    def criterion(self, config) -> nn.Module:
        """``nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)``."""
        return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    def feed(self, outputs: torch.Tensor, labels: torch.Tensor, n_views: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B * n_views, n_classes) and each sample's label repeated for its views."""
        return outputs, labels.repeat_interleave(n_views)


#: The registry: ``loss`` parameter value -> objective, in registration order
#: (the order of the command line's default variants).
OBJECTIVES: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
    """Add ``objective`` to :data:`OBJECTIVES` under its name; return it.

    Raises
    ------
    ValueError
        If an objective of that name is registered already.
    """
    if objective.name in OBJECTIVES:
        raise ValueError(f"a loss named {objective.name!r} is registered already")
    OBJECTIVES[objective.name] = objective
    return objective


def loss_names() -> tuple[str, ...]:
    """The registered losses' names, in registration order (the ``loss`` parameter's choices)."""
    return tuple(OBJECTIVES)


def get_objective(loss: str) -> Objective:
    """The objective registered as ``loss``.

    Raises
    ------
    ValueError
        If no objective has that name (the message names the choices).
    """
    try:
        return OBJECTIVES[loss]
    except (KeyError, TypeError):  # TypeError: an unhashable value
        raise ValueError(f"loss must be one of {loss_names()}, got {loss!r}") from None


register(SupConObjective())
register(CrossEntropyObjective())
register(TunedContrastiveObjective())
