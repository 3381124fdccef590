"""k-nearest-neighbour voters: class posteriors of one task in one embedding space."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from proglearn_supcon.validation import is_int

__all__ = ["STORAGE_DTYPES", "KNNClassificationVoter"]

_METRICS = ("cosine", "euclidean")
#: How a voter may store its fit embeddings (``storage_dtype``).
STORAGE_DTYPES = ("float32", "float16", "bfloat16")
#: Largest finite float16.
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def _check_embeddings(X, *, copy: bool = False) -> np.ndarray:
    """``X`` as a finite 2-D float32 ndarray with at least one row; ValueError otherwise."""
    # Values beyond float32's range turn into inf in the cast and are then
    # reported by check_array; numpy's overflow warning would be just noise.
    with np.errstate(over="ignore", invalid="ignore"):
        return check_array(X, dtype=np.float32, copy=copy)


def _distances(queries: torch.Tensor, fit: torch.Tensor, fit_sq_norms: torch.Tensor | None) -> torch.Tensor:
    """Distances (q, n) float64 between query and fit rows, both float64.

    Cosine: both sides are L2-normalised beforehand, so this is ``1 - q @ f.T``.
    Euclidean (``fit_sq_norms`` given): the *squared* distance, which ranks
    the same and skips a square root.
    """
    products = queries @ fit.T
    if fit_sq_norms is None:
        return 1.0 - products
    squared = (queries * queries).sum(dim=1, keepdim=True) - 2.0 * products + fit_sq_norms
    return squared.clamp_(min=0.0)  # rounding can make it slightly negative


def _normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` scaled to unit L2 norm; zero rows stay zero (cosine distance 1 to all)."""
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    return x / torch.where(norms > 0, norms, 1.0)


def _stored(X: np.ndarray, storage_dtype: str, metric: str) -> np.ndarray | torch.Tensor:
    """The fit embeddings ``X`` (float32) as the voter keeps them: ``storage_dtype``, see the class Notes."""
    if storage_dtype == "float32":
        return X
    if metric == "cosine":
        # Cosine ignores the rows' lengths, so they are stored at unit length:
        # no embedding can then overflow float16, whatever its scale (the norms
        # in float64, where the squares of any float32 cannot overflow).
        X = _normalize_rows(torch.from_numpy(X).double()).float().numpy()
    if storage_dtype == "bfloat16":
        return torch.from_numpy(X).to(torch.bfloat16)  # numpy has no bfloat16
    largest = float(np.abs(X).max(initial=0.0))
    if largest > _FLOAT16_MAX:
        raise ValueError(
            f"X has values of magnitude up to {largest:.4g}, beyond float16's range (+-{_FLOAT16_MAX:g}), "
            "which the Euclidean metric cannot rescale away; use storage_dtype='bfloat16' or 'float32'."
        )
    return X.astype(np.float16)


def _nearest_mask(distances: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean (q, n) mask of each row's ``k`` smallest distances.

    Ties are broken in favour of the lower fit index, as a stable argsort
    would: everything strictly closer than the k-th smallest distance is
    taken, then the lowest-index points at exactly that distance fill the
    remaining places. ``torch.topk`` alone gives no such guarantee.
    """
    # The k-th smallest distance is the largest of the k smallest: topk finds it 3-5x faster than kthvalue on CPU
    # (330 x 1000 distances), and the value is the same element, so the mask is too.
    kth = torch.topk(distances, k, dim=1, largest=False, sorted=False).values.amax(dim=1, keepdim=True)
    closer = distances < kth
    tied = distances == kth
    n_missing = k - closer.sum(dim=1, keepdim=True)
    return closer | (tied & (tied.cumsum(dim=1, dtype=torch.int32) <= n_missing))


class KNNClassificationVoter(ClassifierMixin, BaseEstimator):
    """Class posteriors from the k nearest fit points, with uniform weights.

    Like :class:`sklearn.neighbors.KNeighborsClassifier` with brute-force
    search and uniform weights, but with posterior columns for the task's
    full class list (a class missing from the fit data gets a zero column)
    and distances computed in query batches with torch.

    Parameters
    ----------
    k : int or None, default=None
        Number of neighbours, >= 1. None uses ``max(1, floor(log2(n_fit)))``.
        Either way it is capped at the number of fit points.
    metric : {"cosine", "euclidean"}, default="cosine"
        ``"cosine"``: ``1 - cosine similarity``, with zero vectors at distance
        1 from everything. ``"euclidean"``: L2 distance.
    classes : array-like of shape (n_classes,) or None, default=None
        The task's classes; the labels given to :meth:`fit` must be among
        them. None uses the labels seen in :meth:`fit`.
    batch_size : int, default=4096
        Number of queries whose distances to all fit points are held in
        memory at once.
    storage_dtype : {"float32", "float16", "bfloat16"}, default="float32"
        How the fit embeddings are stored. The 16-bit types halve the memory;
        distances are still computed in float64 (see Notes).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique classes; the column order of :meth:`predict_proba`.
    k_ : int
        Number of neighbours used.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    X_fit_ : ndarray or torch.Tensor of shape (n_fit, ``n_features_in_``)
        The fit embeddings as stored: a float32 or float16 ndarray, or a
        bfloat16 tensor (numpy has no bfloat16). With a 16-bit
        ``storage_dtype`` and the cosine metric the rows are scaled to unit
        length before rounding.
    y_fit_ : ndarray of shape (n_fit,), int64
        The fit labels as indices into ``classes_``.

    Notes
    -----
    Distances are computed in float64 from float32 embeddings (queries are
    cast to float32 too, so both sides are treated alike). Points at exactly
    equal computed distance are ranked by their fit index, lower first, as a
    stable argsort of the distances would rank them.

    With a 16-bit ``storage_dtype`` each fit embedding is rounded once, when
    it is stored; queries are not rounded. The row norms (for the cosine
    normalisation and the Euclidean squared norms) are computed in float64
    from the *stored* rows, so every distance is the exact distance to a
    stored point: the voter is an exact kNN over the rounded points, with the
    same tie rule. Norms of the original rows combined with products of the
    rounded ones would give numbers that are no point's distance. Rounding
    can therefore change a prediction only where two fit points are closer
    to a query's k-th neighbour distance than the rounding moves a distance.
    float16 keeps 11 significant bits (relative rounding ``2**-11``),
    bfloat16 8 (``2**-8``), so float16 moves distances about 8 times less and
    keeps more of the ranking; its range (+-65504) is no limit for the cosine
    metric, whose rows are stored at unit length, and a Euclidean fit beyond
    it is refused. bfloat16 has float32's range.
    """

    def __init__(
        self,
        k: int | None = None,
        metric: str = "cosine",
        classes=None,
        batch_size: int = 4096,
        storage_dtype: str = "float32",
    ) -> None:
        self.k = k
        self.metric = metric
        self.classes = classes
        self.batch_size = batch_size
        self.storage_dtype = storage_dtype

    def _check_params(self) -> None:
        """Raise ValueError if a constructor parameter is invalid."""
        if self.k is not None and (not is_int(self.k) or self.k < 1):
            raise ValueError(f"k must be an integer >= 1 or None, got {self.k!r}.")
        if self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {self.metric!r}.")
        if not is_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}.")
        if self.storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"storage_dtype must be one of {STORAGE_DTYPES}, got {self.storage_dtype!r}.")

    def _resolve_classes(self, y: np.ndarray) -> np.ndarray:
        if self.classes is None:
            return np.unique(y)
        given = np.asarray(self.classes)
        if given.ndim != 1 or given.size == 0:
            raise ValueError(f"classes must be a non-empty 1-D array-like, got {self.classes!r}.")
        classes = np.unique(given)
        unknown = np.setdiff1d(np.unique(y), classes)
        if unknown.size:
            raise ValueError(f"y has labels {unknown.tolist()} that are not in classes {classes.tolist()}.")
        return classes

    def fit(self, X, y) -> "KNNClassificationVoter":
        """Store the fit embeddings and their labels.

        Parameters
        ----------
        X : array-like of shape (n_fit, n_features), real, finite
            Embeddings; stored as ``storage_dtype``.
        y : array-like of shape (n_fit,)
            Labels, ints or strings; a subset of ``classes`` if given.

        Returns
        -------
        self : KNNClassificationVoter

        Raises
        ------
        ValueError
            On invalid parameters, non-finite or non-2-D ``X``, a length
            mismatch, labels outside ``classes``, or (float16, Euclidean)
            values beyond float16's range.
        """
        self._check_params()
        # A copy, so that later edits of X cannot move the voter; the 16-bit
        # conversions make their own, so a float32 copy there would be a waste.
        X = _check_embeddings(X, copy=self.storage_dtype == "float32")
        y = column_or_1d(y, warn=True)
        if len(y) != len(X):
            raise ValueError(f"X and y have different lengths: {len(X)} and {len(y)}.")
        self.classes_ = self._resolve_classes(y)
        n_fit = len(X)
        # floor(log2(n)) exactly, without floating-point log.
        k = max(1, n_fit.bit_length() - 1) if self.k is None else self.k
        self.k_ = min(k, n_fit)
        self.n_features_in_ = X.shape[1]
        self.X_fit_ = _stored(X, self.storage_dtype, self.metric)
        self.y_fit_ = np.searchsorted(self.classes_, y).astype(np.int64)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Fraction of the ``k_`` nearest fit points in each class.

        Parameters
        ----------
        X : array-like of shape (n, ``n_features_in_``), real, finite
            Query embeddings.

        Returns
        -------
        ndarray of shape (n, n_classes), float64
            Rows sum to 1; columns follow ``classes_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` is not finite and 2-D with ``n_features_in_`` columns.
        """
        check_is_fitted(self)
        X = _check_embeddings(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this voter was fitted on {self.n_features_in_}.")
        return self._vote(torch.from_numpy(X).double(), self.k_)

    def loo_predict_proba(self, rows=None) -> np.ndarray:
        """Leave-one-out posteriors of fit points: each from its nearest *other* fit points.

        Point ``i`` is left out by its index, not by its value, so an exact
        duplicate of it elsewhere in the fit set still votes (it is another
        point) while the point itself never does. The number of neighbours is
        ``min(k_, n_fit - 1)``. These are held-out posteriors: what the
        voter would say of a new point like ``i``, from the data it holds.

        Parameters
        ----------
        rows : array-like of int of shape (n_rows,) or None, default=None
            Indices into the fit set (the rows of ``X_fit_``); None: all.

        Returns
        -------
        ndarray of shape (n_rows, n_classes), float64
            Rows sum to 1; columns follow ``classes_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If the voter holds a single point (it has no other), or ``rows``
            are not integers in ``[0, n_fit)``.
        """
        check_is_fitted(self)
        n_fit = len(self.y_fit_)
        if n_fit < 2:
            raise ValueError("a voter fitted on a single point has no leave-one-out posterior.")
        rows = np.arange(n_fit) if rows is None else np.asarray(rows)
        if rows.ndim != 1 or (rows.size and (not np.issubdtype(rows.dtype, np.integer) or rows.min() < 0)):
            raise ValueError("rows must be a 1-D array of non-negative integer indices into the fit set.")
        if rows.size and rows.max() >= n_fit:
            raise ValueError(f"rows has index {int(rows.max())}, but the voter holds {n_fit} fit points.")
        return self._vote(None, min(self.k_, n_fit - 1), rows)

    def _vote(self, queries: torch.Tensor | None, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """Class fractions among each query's ``k`` nearest fit points, (q, n_classes) float64.

        ``queries`` are float64 (q, n_features); None: the fit rows ``exclude``
        themselves. ``exclude[i]``, if given, is a fit index that query ``i``
        may not count as a neighbour (its own).
        """
        # Norms below come from the stored (possibly rounded) rows: see the class Notes.
        fit = torch.as_tensor(self.X_fit_).double()
        fit_sq_norms = None
        if self.metric == "cosine":
            fit = _normalize_rows(fit)
        else:
            fit_sq_norms = (fit * fit).sum(dim=1)
        if queries is None:  # leave-one-out: the fit rows, already prepared
            queries = fit[torch.from_numpy(exclude.astype(np.int64))]
        elif self.metric == "cosine":
            queries = _normalize_rows(queries)
        # Votes per class as mask @ one-hot; float32 counts are exact up to 2**24.
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(self.y_fit_), len(self.classes_)).float()
        parts = []
        for start in range(0, len(queries), self.batch_size):
            distances = _distances(queries[start : start + self.batch_size], fit, fit_sq_norms)
            if exclude is not None:
                own = torch.from_numpy(exclude[start : start + self.batch_size].astype(np.int64))
                distances[torch.arange(len(own)), own] = torch.inf
            parts.append(_nearest_mask(distances, k).float() @ one_hot)
        counts = torch.cat(parts) if parts else torch.zeros(0, len(self.classes_))
        return counts.double().div_(k).numpy()

    def predict(self, X) -> np.ndarray:
        """Most voted class per query; ties go to the first class in ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n, ``n_features_in_``), real, finite

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_`` (their dtype).
        """
        proba = self.predict_proba(X)  # checks fitted state and input first
        return self.classes_[np.argmax(proba, axis=1)]
