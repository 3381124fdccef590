"""Effective rank of an embedding: how many directions its points spread along.

The entropy-based effective rank of Roy & Vetterli (2007), and its ceiling,
the largest value ``n`` points in ``d`` dimensions can reach. Unlike the
class geometry of :mod:`proglearn_supcon.metrics.geometry`, which reports
both for every labelled embedding, it needs no labels.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_array

__all__ = ["effective_rank", "effective_rank_ceiling", "effective_rank_of_gram"]


def effective_rank(X, center: bool = True) -> float:
    """Entropy-based effective rank (Roy & Vetterli, 2007) of an embedding matrix.

    With ``s_k`` the singular values of ``X`` (of ``X - mean(X)`` when
    ``center``) and ``p_k = s_k / sum_k s_k``::

        effective_rank = exp(-sum_k p_k log p_k)     (0 log 0 = 0)

    It lies in ``[1, min(n, d)]``: 1 when the points span one direction, the
    matrix rank when all non-zero singular values are equal. Invariant to
    rotation and global scale (and, when centred, translation). Centring is the
    default because embeddings after a ReLU share a large common offset whose
    direction would otherwise dominate the spectrum.

    The singular values are the square roots of the eigenvalues of the smaller
    Gram matrix (``X X^T`` or ``X^T X``), much cheaper than an SVD of a
    (1000, 2000) embedding; eigenvalues below numpy's rank tolerance
    (``max eigenvalue * size * eps``) count as 0.

    Parameters
    ----------
    X : array-like of shape (n, d), real, finite, n >= 2 when centred
    center : bool, default=True

    Returns
    -------
    float
        NaN if ``X`` (centred) is zero.

    Raises
    ------
    ValueError
        On non-finite or non-2-D ``X``, or one row with ``center=True``.
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    if center:
        if len(X) < 2:
            raise ValueError("effective_rank of a centred embedding needs at least 2 rows.")
        X = X - X.mean(axis=0)
    return effective_rank_of_gram(X @ X.T if X.shape[0] <= X.shape[1] else X.T @ X)


def effective_rank_ceiling(n: int, d: int, center: bool = True) -> int:
    """The largest effective rank ``n`` points in ``d`` dimensions can have: the largest possible matrix rank.

    ``min(n - 1, d)`` for centred points (centring removes one dimension of
    the ``n`` rows' span), ``min(n, d)`` otherwise. 1000 centred test points
    of a 2000-d embedding have an effective rank of at most 999, not 2000;
    the ceiling is recorded beside every effective rank so that ranks of
    splits or spaces of different sizes are read against their own.

    Parameters
    ----------
    n : int
        Number of points, >= 1 (>= 2 when ``center``).
    d : int
        Dimension, >= 1.
    center : bool, default=True

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``n`` or ``d`` is too small.
    """
    if d < 1 or n < (2 if center else 1):
        raise ValueError(f"effective_rank_ceiling needs d >= 1 and n >= {2 if center else 1}; got n={n}, d={d}.")
    return min(n - 1, d) if center else min(n, d)


def effective_rank_of_gram(gram: np.ndarray) -> float:
    """Effective rank of a matrix from its Gram matrix, whose eigenvalues are its squared singular values.

    Parameters
    ----------
    gram : ndarray of shape (k, k), float64
        ``X X^T`` or ``X^T X`` of the matrix ``X`` (centred first for the
        centred effective rank).

    Returns
    -------
    float
        As :func:`effective_rank`; NaN if the Gram matrix is zero.
    """
    eigenvalues = np.linalg.eigvalsh(gram)
    # Eigenvalues within rounding of zero (numpy's rank tolerance) are zero: their
    # square roots (~1e-7 of the largest singular value) would add spurious entropy.
    tolerance = eigenvalues.max(initial=0.0) * len(eigenvalues) * np.finfo(np.float64).eps
    singular = np.sqrt(np.where(eigenvalues > tolerance, eigenvalues, 0.0))
    total = singular.sum()
    if total == 0:
        return float("nan")
    p = singular[singular > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))
