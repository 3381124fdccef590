"""Input checks shared by the transformer, the learner, the estimators and the deciders.

Every check raises before anything is trained or changed, with a message that
says what was expected.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.multiclass import type_of_target


def is_int(value: object) -> bool:
    """True for Python and numpy integers, False for bools (which are ints to Python)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_real(
    name: str, value: object, *, low: float, high: float = np.inf, low_open: bool = False, high_open: bool = False
) -> None:
    """Raise ValueError unless ``value`` is a real number in the given range.

    Bools, strings, NaN and infinities are refused (``"abc" > 0`` would raise
    a TypeError far from the parameter that caused it). The message names
    ``name``, the range and the value, e.g. ``lr must be a real number in (0,
    inf), got 'abc'``.
    """
    is_real = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    above = is_real and (value > low if low_open else value >= low)
    below = is_real and (value < high if high_open else value <= high)
    if not (above and below):
        closing = ")" if high_open or high == np.inf else "]"
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{closing}"
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")


def check_inputs(X, *, name: str = "X") -> np.ndarray:
    """Validate images or feature vectors and return them as an ndarray.

    Parameters
    ----------
    X : array-like
        Images of shape (n, H, W, C) with C in {1, 3}, dtype uint8 (0..255)
        or floating (expected in [0, 1]); or feature vectors of shape (n, d)
        of any real dtype (checked by :func:`sklearn.utils.check_array`, so
        scikit-learn's messages apply).

    Returns
    -------
    X : ndarray
        uint8 images are returned as they are; everything else as float32.
    """
    if sp.issparse(X):
        raise TypeError(
            f"A sparse matrix was passed as {name}, but dense data is required. "
            "Use X.toarray() to convert to a dense numpy array."
        )
    X = np.asarray(X)
    if X.ndim != 4:
        if X.ndim > 2:
            raise ValueError(
                f"{name} must be images (n, H, W, C) or feature vectors (n, d), got {X.ndim}-D input of shape {X.shape}"
            )
        return check_array(X, dtype=np.float32, input_name=name)
    # Also rejects object, bool, complex and other integer dtypes.
    if X.dtype != np.uint8 and not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"images must be uint8 (0..255) or real floating point (0..1), got dtype {X.dtype}")
    if X.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must hold images of shape (n, H, W, C) with C = 1 or 3 channels last, got shape {X.shape}"
        )
    if X.shape[0] == 0 or any(s == 0 for s in X.shape[1:]):
        raise ValueError(f"{name} has a zero-sized dimension: shape {X.shape}")
    if X.dtype == np.uint8:
        return X
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity")
    low, high = float(X.min()), float(X.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"floating-point images must be scaled to [0, 1], got values in [{low:g}, {high:g}]; "
            "pass uint8 images (0..255) or divide by 255"
        )
    return X


def check_labels(y, n_samples: int, *, min_classes: int = 2) -> np.ndarray:
    """Validate a label vector of length ``n_samples`` with at least ``min_classes`` classes."""
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        raise ValueError(f"y must be 1-D of shape (n,), got a column of shape {y.shape}; use y.ravel()")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D of shape (n,), got shape {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"X and y have different lengths: {n_samples} samples but {len(y)} labels")
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity")
    if type_of_target(y) not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {type_of_target(y)}; classification labels must be discrete "
            "(non-integer floats look like a continuous target)"
        )
    if y.dtype == object:
        kinds = {type(v) for v in y}
        if len(kinds) > 1:
            raise ValueError(f"y mixes label types {sorted(k.__name__ for k in kinds)}")
    n_classes = len(np.unique(y))
    if n_classes < min_classes:
        raise ValueError(
            f"a task needs at least {min_classes} classes, got {n_classes} class{'es' if n_classes != 1 else ''}"
        )
    return y


def check_posteriors(posteriors, n_classes: int) -> np.ndarray:
    """A decider's input: one posterior matrix per voter, as a (n_voters, n, n_classes) float64 array.

    Raises ValueError if ``posteriors`` is empty or one 2-D array, a matrix
    is not 2-D or not finite, the shapes differ, or the column count is not
    ``n_classes``.
    """
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
    return np.stack(matrices)


def sorted_classes(classes) -> np.ndarray:
    """Sorted unique ``classes``; ValueError (naming them as given) unless they are 1-D and non-empty."""
    array = np.asarray(classes)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"classes must be a non-empty 1-D array-like, got {classes!r}.")
    return np.unique(array)


def check_input_shape(X: np.ndarray, expected: tuple[int, ...] | None, *, name: str = "X") -> None:
    """Raise if the per-sample shape of ``X`` differs from ``expected`` (None: anything goes)."""
    if expected is not None and tuple(X.shape[1:]) != tuple(expected):
        raise ValueError(
            f"{name} has per-sample shape {tuple(X.shape[1:])}, but this model was fitted on {tuple(expected)}"
        )
