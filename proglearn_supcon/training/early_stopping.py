"""Model selection while a transformer trains: which epoch's weights to keep.

The voters classify by k nearest neighbours in the encoder's embedding, so the
default rule (``"knn"``) keeps the epoch whose embedding gives the best kNN
accuracy on the validation split, with a kNN fitted on the un-augmented
training split. ``"loss"`` keeps the lowest validation loss (the SupCon
validation loss is nearly flat during training, a poor signal for the voters);
``"none"`` keeps the last epoch.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from proglearn_supcon.voters import KNNClassificationVoter

#: Rules for which evaluated epoch's weights a transformer keeps.
EARLY_STOPPING = ("knn", "loss", "none")


def knn_accuracy(
    train_embeddings: np.ndarray,
    train_labels: np.ndarray,
    val_embeddings: np.ndarray,
    val_labels: np.ndarray,
    k: int | None,
    metric: str,
) -> float:
    """Accuracy on the validation embeddings of a kNN voter fitted on the training ones.

    Parameters
    ----------
    train_embeddings : ndarray of shape (n_train, d), float32
    train_labels : ndarray of shape (n_train,)
    val_embeddings : ndarray of shape (n_val, d), float32
    val_labels : ndarray of shape (n_val,)
    k, metric
        As in :class:`~proglearn_supcon.voters.KNNClassificationVoter`.
    """
    voter = KNNClassificationVoter(k=k, metric=metric).fit(train_embeddings, train_labels)
    return float(np.mean(voter.predict(val_embeddings) == val_labels))


@dataclass
class EarlyStopping:
    """Tracks the best evaluated epoch and a copy of its weights.

    Parameters
    ----------
    rule : {"knn", "loss", "none"}
        ``"knn"`` maximises the validation kNN accuracy, ``"loss"`` minimises
        the validation loss; ties keep the earlier epoch. ``"none"`` never
        stops and keeps the last weights.
    patience : int
        Stop once this many epochs have passed since the best one.
    """

    rule: str
    patience: int
    best_epoch: int | None = None
    best_score: float = -math.inf
    best_state: list | None = field(default=None, repr=False)

    def score(self, val_loss: float, val_accuracy: float) -> float:
        """Higher is better."""
        return val_accuracy if self.rule == "knn" else -val_loss

    def update(self, epoch: int, val_loss: float, val_accuracy: float, modules: list[nn.Module]) -> None:
        """Record an evaluated epoch; copy the weights when it is the best so far."""
        if self.rule == "none":
            return
        score = self.score(val_loss, val_accuracy)
        if score > self.best_score:
            self.best_epoch, self.best_score = epoch, score
            self.best_state = [copy.deepcopy(m.state_dict()) for m in modules]

    def should_stop(self, epoch: int) -> bool:
        return self.best_epoch is not None and epoch - self.best_epoch >= self.patience

    def restore(self, modules: list[nn.Module]) -> None:
        """Load the best weights into ``modules`` (nothing for ``"none"``)."""
        if self.best_state is not None:
            for module, state in zip(modules, self.best_state):
                module.load_state_dict(state)
