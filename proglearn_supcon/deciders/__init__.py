"""Deciders: combine the voters' posteriors of one task into a prediction.

:class:`SimpleArgmaxAverage` is ProgLearn's decider: every voter counts the
same. The learned deciders weigh the voters instead,

.. math::

    \\hat p(y \\mid x) = \\sum_j w_j \\, p_j(y \\mid x), \\qquad w_j \\ge 0, \\; \\sum_j w_j = 1,

with weights fitted on *held-out* posteriors: for each of the task's voter
split points, every voter's posterior computed without that point
(leave-one-out, :meth:`~proglearn_supcon.voters.KNNClassificationVoter.loo_predict_proba`).
No test image and no point's own vote is used.

* :class:`~proglearn_supcon.deciders.learned.EMDecider`: the weights that
  maximise the held-out likelihood of the mixture (EM), shrunk towards the
  uniform average, ``(1 - lam) w_EM + lam / n_voters``.
* :class:`~proglearn_supcon.deciders.learned.SoftmaxDecider`: ``w_j``
  proportional to ``exp(s_j / tau)``, with ``s_j`` voter ``j``'s mean
  held-out log-likelihood (``tau -> 0``: the best voter alone; ``tau ->
  inf``: the average).
* :class:`~proglearn_supcon.deciders.learned.BestKDecider`: the uniform
  average of the ``k`` voters with the best held-out log-likelihood.

Each has one parameter (``lam``, ``tau``, ``k``) that runs from a selective
weighting to the average; it is chosen by 5-fold cross-validation over the
held-out points, so that where those points are few (or the voters alike)
the weights fall back towards the average: a free weighting fitted on a
hundred points can give back what the average earned. The cross-validation
scores each value by the mixture's log-likelihood, Brier score or accuracy
and takes the best, or (``rule="one-se"``) the value nearest the average
within one standard error of the best; ``rule="own-one-se"`` first takes
the own voter alone if it is within one standard error of the best.

* ``"shrunk-em-brier-own-1se"`` (the networks' default): the task's own
  voter alone unless the weighting below beats it on the held-out points by
  more than one standard error of their Brier scores; then
  ``"shrunk-em-brier-1se"``: EM shrunk by the Brier score and the
  one-standard-error rule. ``"shrunk-em"``: EM shrunk by the best
  log-likelihood. ``"em"`` is EM unshrunk (``lam = 0``), for comparison.

The learned deciders are in :mod:`proglearn_supcon.deciders.learned`; the
weights themselves, the smoothing that keeps the log-likelihoods finite and
the scores and rules are in :mod:`proglearn_supcon.mixture_weights`.

:data:`DECIDERS` names them for :class:`~proglearn_supcon.LifelongClassificationNetwork`'s
``decider`` parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator

from proglearn_supcon.deciders.learned import (
    SHRINKAGE_GRID,
    TEMPERATURE_GRID,
    BestKDecider,
    EMDecider,
    SoftmaxDecider,
)
from proglearn_supcon.validation import check_posteriors, sorted_classes

__all__ = [
    "DECIDERS",
    "SHRINKAGE_GRID",
    "TEMPERATURE_GRID",
    "BestKDecider",
    "EMDecider",
    "SimpleArgmaxAverage",
    "SoftmaxDecider",
    "make_decider",
]


class SimpleArgmaxAverage(BaseEstimator):
    """Average the voters' posteriors and predict the class with the largest mean.

    Nothing is learned, so there is no ``fit``: the decider is ready once it
    knows the task's classes.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The task's class labels, ints or strings, in any order; stored as
        given.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique ``classes`` (a property computed from ``classes``): the
        column order expected of every posterior, as the voters'
        ``classes_`` give it.

    Examples
    --------
    >>> decider = SimpleArgmaxAverage(classes=["dog", "cat"])
    >>> decider.predict([np.array([[0.8, 0.2]]), np.array([[0.4, 0.6]])])
    array(['cat'], dtype='<U3')
    """

    def __init__(self, classes) -> None:
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        """Sorted unique classes, shape (n_classes,); ValueError if ``classes`` is not 1-D and non-empty."""
        return sorted_classes(self.classes)

    def predict_proba(self, posteriors: Sequence[np.ndarray]) -> np.ndarray:
        """Mean of the posteriors.

        Parameters
        ----------
        posteriors : sequence of ndarray of shape (n, n_classes), real, finite
            One posterior matrix per voter, all of the same shape, columns
            following ``classes_``.

        Returns
        -------
        ndarray of shape (n, n_classes), float64

        Raises
        ------
        ValueError
            If ``posteriors`` is empty, a matrix is not 2-D or not finite, the
            shapes differ, or the column count is not ``len(classes_)``.
        """
        return np.mean(check_posteriors(posteriors, len(self.classes_)), axis=0)

    def predict(self, posteriors: Sequence[np.ndarray]) -> np.ndarray:
        """Class with the largest mean posterior; ties go to the first in ``classes_``.

        Parameters
        ----------
        posteriors : sequence of ndarray of shape (n, n_classes)
            As for :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_`` (their dtype).
        """
        proba = self.predict_proba(posteriors)  # validates the input first
        return self.classes_[np.argmax(proba, axis=1)]


#: Decider names of the networks' ``decider`` parameter -> a factory of an unfitted decider.
DECIDERS = {
    "average": SimpleArgmaxAverage,
    "em": lambda classes: EMDecider(classes, shrinkage=0.0),
    "shrunk-em": lambda classes: EMDecider(classes, shrinkage="cv"),
    "shrunk-em-brier-1se": lambda classes: EMDecider(classes, shrinkage="cv", score="brier", rule="one-se"),
    "shrunk-em-brier-own-1se": lambda classes: EMDecider(classes, shrinkage="cv", score="brier", rule="own-one-se"),
    "softmax": SoftmaxDecider,
    "best-k": BestKDecider,
}


def make_decider(name: str, classes):
    """An unfitted decider of :data:`DECIDERS` ``name`` for ``classes``; ValueError for an unknown name."""
    if name not in DECIDERS:
        raise ValueError(f"decider must be one of {tuple(DECIDERS)}, got {name!r}")
    return DECIDERS[name](classes)
