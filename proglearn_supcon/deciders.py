"""Deciders: combine the voters' posteriors of one task into a prediction."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["SimpleArgmaxAverage"]


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
        classes = np.asarray(self.classes)
        if classes.ndim != 1 or classes.size == 0:
            raise ValueError(f"classes must be a non-empty 1-D array-like, got {self.classes!r}.")
        return np.unique(classes)

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
        n_classes = len(self.classes_)
        if isinstance(posteriors, np.ndarray) and posteriors.ndim == 2:
            # Iterating a single matrix would silently yield its rows.
            raise ValueError("posteriors must be a sequence of 2-D arrays, got one 2-D array; wrap it in a list.")
        matrices = [np.asarray(p, dtype=np.float64) for p in posteriors]
        if not matrices:
            raise ValueError("posteriors is empty; at least one voter's posteriors are needed.")
        first = matrices[0].shape
        for i, p in enumerate(matrices):
            if p.ndim != 2:
                raise ValueError(f"posteriors[{i}] must be 2-D (n, n_classes), got shape {p.shape}.")
            if p.shape != first:
                raise ValueError(f"posteriors[{i}] has shape {p.shape}, but posteriors[0] has {first}.")
            if not np.isfinite(p).all():
                raise ValueError(f"posteriors[{i}] contains NaN or infinity.")
        if first[1] != n_classes:
            raise ValueError(f"posteriors have {first[1]} columns, but there are {n_classes} classes.")
        return np.mean(matrices, axis=0)

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
