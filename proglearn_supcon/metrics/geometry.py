"""Geometry of labelled embeddings.

Graf et al. ("Dissecting Supervised Contrastive Learning", ICML 2021) show that
at the loss minimum both SupCon and cross-entropy collapse every class onto a
vertex of a regular simplex; these functions measure how far an embedding is
from that geometry, so that transformers trained with different losses can be
compared along a task sequence.

Every metric takes embeddings ``X`` of shape (n, d) and labels ``y`` of shape
(n,) and computes in float64. Notation: ``C`` classes with ``n_c`` points,
class means ``mu_c``, the centre ``mu = mean_c mu_c`` (the *unweighted* mean of
the class means, so that a regular simplex is centred whatever the class
sizes), centred means ``m_c = mu_c - mu`` and within-class deviations
``z_i = x_i - mu_{y_i}``:

* ``S_W = (1/n) sum_i z_i z_i^T`` (within-class covariance),
* ``S_B = (1/C) sum_c m_c m_c^T`` (between-class covariance).

All metrics are invariant to rotations of the embedding; all but alignment
and uniformity are also invariant to global scale and translation (alignment
and uniformity normalise every row to unit length about the origin, so they
are invariant to global scale but not to translation).

:func:`embedding_geometry` reports them all for one labelled embedding,
with its effective rank (:mod:`proglearn_supcon.metrics.rank`, which needs
no labels).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils.validation import check_array, column_or_1d

from proglearn_supcon.metrics.rank import effective_rank, effective_rank_ceiling, effective_rank_of_gram

# transfer_matrix lived here until it moved to the transfer code; keep the old import path.
from proglearn_supcon.metrics.transfer import transfer_matrix  # noqa: F401

__all__ = [
    "GEOMETRY_METRICS",
    "ClassCollapse",
    "SimplexDeviation",
    "AlignmentUniformity",
    "class_collapse",
    "simplex_deviation",
    "alignment_uniformity",
    "embedding_geometry",
]

#: Names of the metrics returned by :func:`embedding_geometry`, in order.
GEOMETRY_METRICS = (
    "nc1",
    "variance_ratio",
    "angle_deviation",
    "norm_spread",
    "alignment",
    "uniformity",
    "effective_rank",
    "effective_rank_ceiling",
)


class ClassCollapse(NamedTuple):
    """Within-class variability relative to between-class (see :func:`class_collapse`)."""

    nc1: float
    variance_ratio: float


class SimplexDeviation(NamedTuple):
    """Distance of the centred class means from a regular simplex (see :func:`simplex_deviation`)."""

    angle_deviation: float
    norm_spread: float


class AlignmentUniformity(NamedTuple):
    """Wang & Isola's alignment and uniformity (see :func:`alignment_uniformity`)."""

    alignment: float
    uniformity: float


def _check_X_y(X, y) -> tuple[np.ndarray, np.ndarray, int]:
    """``X`` as finite float64 (n, d), ``y`` as class codes (n,) int64, and the class count.

    Raises ValueError on non-2-D or non-finite ``X``, a length mismatch,
    missing (NaN) labels or fewer than 2 classes.
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    y = column_or_1d(y)
    if len(y) != len(X):
        raise ValueError(f"X and y have different lengths: {len(X)} and {len(y)}.")
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity; every embedding needs a label.")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"the geometry of classes needs at least 2 classes, got 1 (label {classes[0]!r}).")
    return X, codes.astype(np.int64), len(classes)


def _class_means(X: np.ndarray, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Class means (C, d): per-class sums by a one-hot product, divided by the counts."""
    one_hot = np.zeros((n_classes, len(codes)))
    one_hot[codes, np.arange(len(codes))] = 1.0
    return (one_hot @ X) / one_hot.sum(axis=1, keepdims=True)


def class_collapse(X, y) -> ClassCollapse:
    """Within-class variability relative to between-class variability.

    ``nc1`` is Papyan et al.'s neural-collapse measure NC1,
    ``tr(S_W S_B^+) / C``, with ``S_B^+`` the Moore-Penrose pseudo-inverse;
    ``variance_ratio`` is ``tr(S_W) / tr(S_B)``. Both are 0 when every point
    sits on its class mean, and invariant to rotation, global scale and
    translation.

    ``S_B`` has rank ``r <= C - 1``, so with ``m = U s V^T`` the thin SVD of the
    (C, d) centred class means, ``S_B^+ = V_r diag(C / s_r^2) V_r^T`` and
    ``NC1 = (1/n) sum_k ||Z v_k||^2 / s_k^2`` over the ``r`` non-zero singular
    values (those above ``s_max * max(C, d) * eps``, numpy's rank tolerance),
    with ``Z`` the (n, d) within-class deviations: no (d, d) matrix is formed.

    Parameters
    ----------
    X : array-like of shape (n, d), real, finite
        Embeddings.
    y : array-like of shape (n,)
        Labels (any values), at least 2 classes.

    Returns
    -------
    ClassCollapse
        ``(nc1, variance_ratio)`` as floats; both NaN when the class means
        coincide (no between-class scatter to compare with).

    Raises
    ------
    ValueError
        On non-finite or non-2-D ``X``, a length mismatch, or fewer than 2 classes.
    """
    X, codes, n_classes = _check_X_y(X, y)
    means = _class_means(X, codes, n_classes)
    centred = means - means.mean(axis=0)
    deviations = X - means[codes]
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(centred.shape) * np.finfo(np.float64).eps
    if not keep.any():
        return ClassCollapse(np.nan, np.nan)
    projected = deviations @ vt[keep].T  # (n, r): deviations along the between-class directions
    nc1 = np.sum(projected**2 / s[keep] ** 2) / len(X)
    ratio = (np.sum(deviations**2) / len(X)) / (np.sum(centred**2) / n_classes)
    return ClassCollapse(float(nc1), float(ratio))


def simplex_deviation(X, y) -> SimplexDeviation:
    """How far the centred class means are from a regular simplex.

    The ``C`` vertices of a regular simplex centred at the origin have equal
    norms and pairwise cosines ``-1 / (C - 1)``. With ``m_c`` the centred class
    means:

    * ``angle_deviation = mean_{c < c'} |cos(m_c, m_c') + 1 / (C - 1)|``;
    * ``norm_spread = std_c ||m_c|| / mean_c ||m_c||`` (population std).

    Both are 0 for a regular simplex and invariant to rotation, global scale
    and translation. With 2 classes the centred means are always opposite, so
    ``angle_deviation`` is 0 unless they coincide.

    Parameters
    ----------
    X : array-like of shape (n, d), real, finite
    y : array-like of shape (n,), at least 2 classes

    Returns
    -------
    SimplexDeviation
        ``(angle_deviation, norm_spread)`` as floats. ``angle_deviation`` is
        NaN if a centred class mean is zero (its angle is undefined); both are
        NaN if all are.

    Raises
    ------
    ValueError
        On non-finite or non-2-D ``X``, a length mismatch, or fewer than 2 classes.
    """
    X, codes, n_classes = _check_X_y(X, y)
    means = _class_means(X, codes, n_classes)
    centred = means - means.mean(axis=0)
    norms = np.linalg.norm(centred, axis=1)
    if not (norms > 0).any():
        return SimplexDeviation(np.nan, np.nan)
    spread = norms.std() / norms.mean()
    if not (norms > 0).all():
        return SimplexDeviation(np.nan, float(spread))
    cosines = (centred @ centred.T) / np.outer(norms, norms)
    upper = np.triu_indices(n_classes, k=1)
    deviation = np.mean(np.abs(cosines[upper] + 1.0 / (n_classes - 1)))
    return SimplexDeviation(float(deviation), float(spread))


def _unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; zero rows stay zero (as in the kNN voter's cosine metric)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def alignment_uniformity(X, y, t: float = 2.0, block_size: int = 2048) -> AlignmentUniformity:
    """Wang & Isola's alignment and uniformity of L2-normalised embeddings.

    With ``u_i = x_i / ||x_i||``:

    * ``alignment = mean over ordered pairs i != j with y_i = y_j of ||u_i - u_j||^2``
      (positives are the points of the same class; exponent alpha = 2), in [0, 4];
      lower means tighter classes;
    * ``uniformity = log mean_{i != j} exp(-t ||u_i - u_j||^2)``, in [-4 t, 0];
      lower means the points cover the sphere more evenly.

    Alignment needs no pairwise matrix: summing
    ``||u_i - u_j||^2 = q_i + q_j - 2 u_i . u_j`` (``q_i = ||u_i||^2``) over a
    class gives ``2 n_c sum_i q_i - 2 ||sum_i u_i||^2``. Uniformity is summed
    over blocks of ``block_size`` rows, so memory stays (block_size, n).

    Invariant to rotation and global scale (not to translation: the rows are
    normalised about the origin).

    Parameters
    ----------
    X : array-like of shape (n, d), real, finite
    y : array-like of shape (n,), at least 2 classes
    t : float, default=2.0
        Temperature of the uniformity kernel, > 0.
    block_size : int, default=2048
        Rows of the (block_size, n) distance block held in memory.

    Returns
    -------
    AlignmentUniformity
        ``(alignment, uniformity)`` as floats.

    Raises
    ------
    ValueError
        On the input errors of :func:`class_collapse`, ``t <= 0``, or when no
        class has two points (no positive pair).
    """
    if not t > 0:
        raise ValueError(f"t must be > 0, got {t!r}.")
    X, codes, n_classes = _check_X_y(X, y)
    u = _unit_rows(X)
    sq_norms = np.sum(u**2, axis=1)
    kernel_sum = 0.0
    for start in range(0, len(u), block_size):
        block = slice(start, start + block_size)
        kernel_sum += _kernel_sum(sq_norms[block, None] + sq_norms[None, :] - 2.0 * (u[block] @ u.T), t)
    return AlignmentUniformity(_alignment(u, codes, n_classes), _uniformity(kernel_sum, len(u)))


def _alignment(u: np.ndarray, codes: np.ndarray, n_classes: int) -> float:
    """Alignment of unit rows ``u`` (n, d) with class codes (n,); see :func:`alignment_uniformity`."""
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    n_positive_pairs = np.sum(counts * (counts - 1))
    if n_positive_pairs == 0:
        raise ValueError("alignment needs at least one class with 2 or more points (a positive pair).")
    class_sums = _class_means(u, codes, n_classes) * counts[:, None]
    class_sq = np.bincount(codes, weights=np.sum(u**2, axis=1), minlength=n_classes)
    total = np.sum(2.0 * counts * class_sq - 2.0 * np.sum(class_sums**2, axis=1))
    return float(max(total / n_positive_pairs, 0.0))  # rounding can leave -1e-16


def _kernel_sum(sq_dist: np.ndarray, t: float) -> float:
    """``sum exp(-t * sq_dist)``, squared distances that rounding made negative read as 0."""
    return float(np.exp(-t * np.maximum(sq_dist, 0.0)).sum())


def _uniformity(kernel_sum: float, n: int) -> float:
    """Uniformity from the kernel summed over all n^2 ordered pairs, diagonal included.

    The n diagonal terms are exp(0) = 1: they are removed exactly. n >= 2
    wherever this is called, since there are at least 2 classes.
    """
    return float(np.log((kernel_sum - n) / (n * (n - 1))))


def embedding_geometry(X, y) -> dict[str, float]:
    """Every metric of this module and the effective rank on one labelled embedding.

    Parameters
    ----------
    X : array-like of shape (n, d), real, finite
    y : array-like of shape (n,), at least 2 classes, one with 2 or more points

    Returns
    -------
    dict of str to float
        Keys :data:`GEOMETRY_METRICS`: ``nc1`` and ``variance_ratio``
        (:func:`class_collapse`), ``angle_deviation`` and ``norm_spread``
        (:func:`simplex_deviation`), ``alignment`` and ``uniformity``
        (:func:`alignment_uniformity`), ``effective_rank`` (centred,
        :func:`~proglearn_supcon.metrics.rank.effective_rank`) and
        ``effective_rank_ceiling``, its largest possible value ``min(n - 1, d)``
        (:func:`~proglearn_supcon.metrics.rank.effective_rank_ceiling`).
    """
    X, codes, n_classes = _check_X_y(X, y)  # once here; the metrics then see clean codes
    n, d = X.shape
    if n > d:  # an (n, n) Gram matrix would be the larger one: compute each metric on its own
        return {
            **class_collapse(X, codes)._asdict(),
            **simplex_deviation(X, codes)._asdict(),
            **alignment_uniformity(X, codes)._asdict(),
            "effective_rank": effective_rank(X),
            "effective_rank_ceiling": float(effective_rank_ceiling(n, d)),
        }
    # One (n, n) Gram matrix serves uniformity (after normalising the rows)
    # and the centred effective rank (after double centring: H G H with
    # H = I - 11^T / n is the Gram matrix of the centred rows), halving the cost.
    gram = X @ X.T
    norms = np.sqrt(np.maximum(np.diag(gram), 0.0))
    inverse = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    unit_gram = gram * inverse[:, None] * inverse[None, :]
    sq_norms = np.diag(unit_gram)
    row_means = gram.mean(axis=1)
    centred_gram = gram - row_means[:, None] - row_means[None, :] + row_means.mean()
    return {
        **class_collapse(X, codes)._asdict(),
        **simplex_deviation(X, codes)._asdict(),
        "alignment": _alignment(_unit_rows(X), codes, n_classes),
        "uniformity": _uniformity(_kernel_sum(sq_norms[:, None] + sq_norms[None, :] - 2.0 * unit_gram, 2.0), n),
        "effective_rank": effective_rank_of_gram(centred_gram),
        "effective_rank_ceiling": float(effective_rank_ceiling(n, d)),
    }
