"""Fewer dimensions for the voters: one transformer's embedding projected onto its principal directions.

Each voter stores its transformer's embedding of a task's data, 2000 floats a
sample for the default CNN, although such an embedding has an effective rank
of about 300 (:func:`~proglearn_supcon.metrics.rank.effective_rank`). A
:class:`PrincipalProjection` fitted on a transformer's embeddings of its own
task maps every embedding of that transformer, fit and query alike, onto the
top ``n_components`` directions, so the transformer's voters store and compare
``n_components`` floats a sample instead.

Principal directions rather than a seeded random projection: they are fitted
to the data and keep the most of its energy for a given width, where a random
projection needs several times the width for the same distortion of distances.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

from proglearn_supcon.validation import is_int

__all__ = ["PrincipalProjection"]


class PrincipalProjection(BaseEstimator):
    """Projection onto the top principal directions of the embeddings it was fitted on.

    Parameters
    ----------
    n_components : int
        Directions kept, >= 1; at most ``min(n_samples, n_features)`` of the
        fit data are kept, the most its embeddings span.
    center : bool, default=True
        Subtract the fit mean before finding the directions and projecting
        (PCA). False finds them in the raw embeddings (an uncentred, truncated
        SVD), which keeps the angles from the origin that the cosine metric
        measures; centring would turn them into angles around the mean. The
        Euclidean metric does not change under the shift, and centring there
        keeps the most of the distances between points and spares the
        distance formula a large common offset.

    Attributes
    ----------
    components_ : ndarray of shape (``n_components_``, ``n_features_in_``), float32
        Orthonormal rows, the principal directions in order of decreasing
        singular value.
    mean_ : ndarray of shape (``n_features_in_``,), float32
        The fit mean (zeros with ``center=False``).
    n_components_ : int
        Directions kept.
    n_features_in_ : int
        Width of the fit embeddings.
    retained_energy_ : float
        Share of the fit data's squared norm (after centring, if any) that the
        kept directions hold, in [0, 1].
    """

    def __init__(self, n_components: int, center: bool = True) -> None:
        self.n_components = n_components
        self.center = center

    def _check_params(self) -> None:
        """Raise ValueError if a constructor parameter is invalid."""
        if not is_int(self.n_components) or self.n_components < 1:
            raise ValueError(f"n_components must be an integer >= 1, got {self.n_components!r}.")
        if not isinstance(self.center, (bool, np.bool_)):
            raise ValueError(f"center must be True or False, got {self.center!r}.")

    def fit(self, X) -> "PrincipalProjection":
        """Find the principal directions of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), real, finite
            Embeddings of one transformer.

        Returns
        -------
        self : PrincipalProjection
        """
        self._check_params()
        X = check_array(X, dtype=np.float64)
        mean = X.mean(axis=0) if self.center else np.zeros(X.shape[1])
        # float64 and a full SVD: the directions are found once per
        # transformer, from at most a few thousand rows.
        _, singular, vt = np.linalg.svd(X - mean, full_matrices=False)
        n_kept = min(self.n_components, len(singular))
        energy = singular**2
        total = energy.sum()
        self.components_ = vt[:n_kept].astype(np.float32)
        self.mean_ = mean.astype(np.float32)
        self.n_components_ = n_kept
        self.n_features_in_ = X.shape[1]
        self.retained_energy_ = float(energy[:n_kept].sum() / total) if total > 0 else 1.0
        return self

    def transform(self, X) -> np.ndarray:
        """Coordinates of ``X`` along the kept directions.

        Parameters
        ----------
        X : array-like of shape (n, ``n_features_in_``), real, finite

        Returns
        -------
        ndarray of shape (n, ``n_components_``), float32
        """
        check_is_fitted(self)
        X = check_array(X, dtype=np.float32)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this projection was fitted on {self.n_features_in_}.")
        return (X - self.mean_) @ self.components_.T
