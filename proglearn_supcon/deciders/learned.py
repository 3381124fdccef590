"""The learned deciders: a task's voters weighed by how well each predicts held-out points.

Each is a weighted mean of the voters' posteriors, ``sum_j w_j p_j(y | x)``
with ``w`` on the simplex, the weights fitted on the voters' leave-one-out
posteriors of the task's voter-split points
(:mod:`proglearn_supcon.deciders` has the formula and the names the
networks use):

* :class:`EMDecider`: EM weights shrunk towards the average,
  ``(1 - lam) w_EM + lam / n_voters``;
* :class:`SoftmaxDecider`: ``w_j`` proportional to ``exp(s_j / tau)`` of the
  voters' mean held-out log-likelihoods ``s_j``;
* :class:`BestKDecider`: the average of the ``k`` voters with the best ``s_j``.

Each has one parameter (``lam``, ``tau``, ``k``) chosen by cross-validation
over the held-out points (``_CrossValidatedDecider``); the scores and rules
it ranks them by are in :mod:`proglearn_supcon.mixture_weights`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from proglearn_supcon.mixture_weights import (
    CV_RULES,
    CV_SCORES,
    choose,
    em_weights_on_subsets_cached,
    mean_log_likelihoods,
    one_se_margins,
    point_scores,
    softmax_weights,
    true_class_likelihoods,
)
from proglearn_supcon.validation import check_posteriors, sorted_classes

__all__ = ["SHRINKAGE_GRID", "TEMPERATURE_GRID", "BestKDecider", "EMDecider", "SoftmaxDecider"]


class _WeightedDecider(BaseEstimator):
    """A weighted mean of the voters' posteriors, the weights fitted on held-out posteriors.

    Subclasses implement ``_fit_weights(stacked, codes, own)``: the weights
    from every voter's held-out posteriors, (n_voters, n, n_classes), each
    point's class column and the own voter's index (or None).
    """

    def __init__(self, classes) -> None:
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        """Sorted unique classes: the column order of every posterior."""
        return sorted_classes(self.classes)

    def fit(self, posteriors, y, own=None) -> "_WeightedDecider":
        """Fit the voters' weights on held-out posteriors.

        Parameters
        ----------
        posteriors : sequence of ndarray of shape (n, n_classes)
            One matrix per voter: its posteriors of ``n`` points that did not
            vote on themselves (leave-one-out) and are no test points.
            Columns follow ``classes_``.
        y : array-like of shape (n,)
            The points' labels, from ``classes``.
        own : int or None, default=None
            Index in ``posteriors`` of the task's own voter (its own
            transformer's), or None if the task has none. Only
            ``rule="own-one-se"`` uses it.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On malformed posteriors, a length mismatch, no point, labels
            outside ``classes``, or ``own`` not None nor a voter's index.
        """
        classes = self.classes_
        stacked = check_posteriors(posteriors, len(classes))
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != stacked.shape[1]:
            raise ValueError(f"y must be 1-D with one label per point ({stacked.shape[1]}), got shape {y.shape}.")
        if len(y) == 0:
            raise ValueError("no held-out point to fit the weights on.")
        codes = np.searchsorted(classes, y)
        if np.any(codes >= len(classes)) or np.any(classes[np.minimum(codes, len(classes) - 1)] != y):
            raise ValueError(f"y has labels outside classes {classes.tolist()}.")
        if own is not None and (
            isinstance(own, bool) or not isinstance(own, (int, np.integer)) or not 0 <= own < stacked.shape[0]
        ):
            raise ValueError(f"own must be None or a voter index in [0, {stacked.shape[0]}), got {own!r}.")
        self.n_voters_ = stacked.shape[0]
        self.weights_ = self._fit_weights(stacked, codes, own)
        return self

    def _fit_weights(self, stacked: np.ndarray, codes: np.ndarray, own) -> np.ndarray:  # pragma: no cover - abstract
        """Weights (n_voters,) from held-out posteriors (n_voters, n, n_classes), class columns (n,), own index."""
        raise NotImplementedError

    def predict_proba(self, posteriors: Sequence[np.ndarray]) -> np.ndarray:
        """Weighted mean of the posteriors, ``sum_j weights_[j] * posteriors[j]``.

        Parameters
        ----------
        posteriors : sequence of ndarray of shape (n, n_classes)
            One matrix per voter, in the order of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n, n_classes), float64
        """
        check_is_fitted(self, "weights_")
        stacked = check_posteriors(posteriors, len(self.classes_))
        if stacked.shape[0] != self.n_voters_:
            raise ValueError(f"got posteriors of {stacked.shape[0]} voters, but the weights are for {self.n_voters_}.")
        return np.tensordot(self.weights_, stacked, axes=1)

    def predict(self, posteriors: Sequence[np.ndarray]) -> np.ndarray:
        """Class with the largest weighted posterior; ties go to the first in ``classes_``."""
        return self.classes_[np.argmax(self.predict_proba(posteriors), axis=1)]


class _CrossValidatedDecider(_WeightedDecider):
    """Weights from a one-parameter family, the parameter chosen by cross-validation.

    A subclass gives the grid of its parameter, ordered from the most
    selective weighting to the uniform average, and ``_family(L)``: the
    weights of every grid value fitted on likelihoods ``L`` (voter ``j``'s
    smoothed posterior of point ``i``'s true class). Point ``i`` is in fold
    ``i % n_folds``; each fold's points are scored (``score``, see
    :func:`point_scores`) under the weights fitted without them, and the
    totals over all points rank the grid values. ``rule="best"`` takes the
    best total (ties: the value nearer the average). ``rule="one-se"`` takes
    the value nearest the average whose total is within one standard error
    of the best's, the error being that of the paired per-point difference
    summed over the points, ``sqrt(n * var(d_i))``: a selective weighting
    must beat the average by more than the noise of the held-out points to
    be chosen. ``rule="own-one-se"`` first asks the same of the own voter
    alone (``fit``'s ``own``; its leave-one-out posteriors need no
    cross-validation): if its total is within one standard error of the best
    value's, the weights are the own voter's alone (``own_alone_``), so the
    other voters must beat the task's single-task learner by more than the
    noise to count; otherwise, or with no own voter, ``"one-se"``. The final
    weights are the chosen value's, fitted on all points. With one voter or
    fewer than two points there is nothing to choose: the average.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
    n_folds : int, default=5
    score : one of :data:`~proglearn_supcon.mixture_weights.CV_SCORES`, default="log-likelihood"
    rule : one of :data:`~proglearn_supcon.mixture_weights.CV_RULES`, default="best"
    """

    def __init__(self, classes, n_folds: int = 5, score: str = "log-likelihood", rule: str = "best") -> None:
        super().__init__(classes)
        self.n_folds = n_folds
        self.score = score
        self.rule = rule

    def _grid(self, n_voters: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _family(self, likelihoods: np.ndarray) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _families(self, likelihoods: np.ndarray, subsets: np.ndarray) -> list[list[np.ndarray]]:
        """``_family`` of each subset of the points (rows of ``subsets``, bool (F, n)); a subclass may batch them."""
        return [self._family(likelihoods[subset]) for subset in subsets]

    def _check_cv_params(self) -> None:
        if isinstance(self.n_folds, bool) or not isinstance(self.n_folds, (int, np.integer)) or self.n_folds < 2:
            raise ValueError(f"n_folds must be an integer >= 2, got {self.n_folds!r}.")
        if self.score not in CV_SCORES:
            raise ValueError(f"score must be one of {CV_SCORES}, got {self.score!r}.")
        if self.rule not in CV_RULES:
            raise ValueError(f"rule must be one of {CV_RULES}, got {self.rule!r}.")

    def _fit_weights(self, stacked: np.ndarray, codes: np.ndarray, own) -> np.ndarray:
        self._check_cv_params()
        likelihoods = true_class_likelihoods(stacked, codes)
        n, n_voters = likelihoods.shape
        grid = self._grid(n_voters)
        self.own_alone_ = False
        if len(grid) == 1 or n < 2 or n_voters == 1:  # nothing to choose
            self.choice_ = grid[0] if len(grid) == 1 else grid[-1]
            return self._family(likelihoods)[0 if len(grid) == 1 else -1]
        folds = np.arange(n) % min(self.n_folds, n)
        held_out = folds[None, :] == np.unique(folds)[:, None]  # (n_folds, n)
        # The families fitted without each fold, and on all points (the last), in one go.
        *without, everything = self._families(likelihoods, np.vstack([~held_out, np.ones((1, n), dtype=bool)]))
        scores = np.zeros((len(grid), n))  # each point's score under each grid value, fitted without its fold
        totals = np.zeros(len(grid))
        for held, family in zip(held_out, without):
            for g, w in enumerate(family):
                scores[g, held] = point_scores(stacked[:, held], codes[held], likelihoods[held], w, self.score)
                totals[g] += np.sum(scores[g, held])  # summed fold by fold, in fold order
        if self.rule == "own-one-se" and own is not None:
            best = choose(scores, totals, "best")
            alone = np.zeros(n_voters)
            alone[own] = 1.0
            own_scores = point_scores(stacked, codes, likelihoods, alone, self.score)
            margin = one_se_margins(own_scores[None, :], scores[best])[0]
            if own_scores.sum() >= totals[best] - margin - 1e-9:
                self.choice_, self.own_alone_ = grid[best], True
                return alone
        chosen = choose(scores, totals, self.rule)  # "own-one-se" past the own voter is "one-se"
        self.choice_ = grid[chosen]
        return everything[chosen]


#: Shrinkage amounts towards the uniform weights tried by ``EMDecider(shrinkage="cv")``.
SHRINKAGE_GRID = np.linspace(0.0, 1.0, 11)


class EMDecider(_CrossValidatedDecider):
    """Maximum held-out likelihood weights (EM), shrunk towards the average.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The task's class labels.
    shrinkage : "cv" or float in [0, 1], default="cv"
        Weights ``(1 - lam) * w_EM + lam / n_voters``. ``"cv"`` picks ``lam``
        from :data:`SHRINKAGE_GRID` by cross-validation (see
        ``_CrossValidatedDecider``); 0 is plain EM, 1 the average.
    n_folds : int, default=5
        Folds of the cross-validation.
    score : one of :data:`~proglearn_supcon.mixture_weights.CV_SCORES`, default="log-likelihood"
        The held-out score that ranks the shrinkage amounts.
    rule : one of :data:`~proglearn_supcon.mixture_weights.CV_RULES`, default="best"
        ``"one-se"`` takes the most shrunk amount within one standard error
        of the best; ``"own-one-se"`` takes the own voter alone if it is
        within one standard error of the best amount, else as ``"one-se"``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_voters,)
    shrinkage_ : float
        The ``lam`` of the best cross-validated amount if ``own_alone_``,
        else the ``lam`` used.
    own_alone_ : bool
        Whether ``rule="own-one-se"`` took the own voter alone.
    n_voters_ : int
    """

    def __init__(
        self, classes, shrinkage="cv", n_folds: int = 5, score: str = "log-likelihood", rule: str = "best"
    ) -> None:
        super().__init__(classes, n_folds, score, rule)
        self.shrinkage = shrinkage

    def _grid(self, n_voters: int) -> np.ndarray:
        if self.shrinkage == "cv":
            return SHRINKAGE_GRID
        if isinstance(self.shrinkage, bool) or not 0.0 <= float(self.shrinkage) <= 1.0:
            raise ValueError(f"shrinkage must be 'cv' or a number in [0, 1], got {self.shrinkage!r}.")
        return np.array([float(self.shrinkage)])

    def _family(self, likelihoods: np.ndarray) -> list[np.ndarray]:
        return self._families(likelihoods, np.ones((1, len(likelihoods)), dtype=bool))[0]

    def _families(self, likelihoods: np.ndarray, subsets: np.ndarray) -> list[list[np.ndarray]]:
        n_voters = likelihoods.shape[1]
        uniform = np.full(n_voters, 1.0 / n_voters)
        fitted = em_weights_on_subsets_cached(likelihoods, subsets) if n_voters > 1 else [uniform] * len(subsets)
        return [[(1.0 - lam) * w + lam * uniform for lam in self._grid(n_voters)] for w in fitted]

    def _fit_weights(self, stacked: np.ndarray, codes: np.ndarray, own) -> np.ndarray:
        weights = super()._fit_weights(stacked, codes, own)
        self.shrinkage_ = float(self.choice_)
        return weights


#: Temperatures tried by :class:`SoftmaxDecider`, in units of the log-likelihoods (0 and inf included).
TEMPERATURE_GRID = np.concatenate([[0.0], np.geomspace(0.01, 10.0, 16), [np.inf]])


class SoftmaxDecider(_CrossValidatedDecider):
    """Weights ``softmax(s / tau)`` of the voters' mean held-out log-likelihoods ``s``.

    ``tau`` is chosen from :data:`TEMPERATURE_GRID` by cross-validation: one
    parameter, from the best voter alone (0) to the average (infinity).

    Attributes
    ----------
    weights_ : ndarray of shape (n_voters,)
    temperature_ : float
    scores_ : ndarray of shape (n_voters,)
        Mean held-out log-likelihood of each voter.
    """

    def _grid(self, n_voters: int) -> np.ndarray:
        return TEMPERATURE_GRID

    def _family(self, likelihoods: np.ndarray) -> list[np.ndarray]:
        scores = mean_log_likelihoods(likelihoods)
        return [softmax_weights(scores, t) for t in TEMPERATURE_GRID]

    def _fit_weights(self, stacked: np.ndarray, codes: np.ndarray, own) -> np.ndarray:
        weights = super()._fit_weights(stacked, codes, own)
        self.scores_ = mean_log_likelihoods(true_class_likelihoods(stacked, codes))
        self.temperature_ = float(self.choice_)
        return weights


class BestKDecider(_CrossValidatedDecider):
    """The average of the ``k`` voters with the best held-out log-likelihood, ``k`` chosen by cross-validation.

    Voters with equal scores keep their order (a stable sort), so the choice
    is deterministic.

    Attributes
    ----------
    weights_ : ndarray of shape (n_voters,)
    k_ : int
    scores_ : ndarray of shape (n_voters,)
    """

    def _grid(self, n_voters: int) -> np.ndarray:
        return np.arange(1, n_voters + 1)

    def _family(self, likelihoods: np.ndarray) -> list[np.ndarray]:
        order = np.argsort(-mean_log_likelihoods(likelihoods), kind="stable")
        family = []
        for k in range(1, len(order) + 1):
            w = np.zeros(len(order))
            w[order[:k]] = 1.0 / k
            family.append(w)
        return family

    def _fit_weights(self, stacked: np.ndarray, codes: np.ndarray, own) -> np.ndarray:
        weights = super()._fit_weights(stacked, codes, own)
        self.scores_ = mean_log_likelihoods(true_class_likelihoods(stacked, codes))
        self.k_ = int(self.choice_)
        return weights
