"""Tests of proglearn_supcon.metrics.geometry and metrics.rank against known geometries and naive numpy loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from proglearn_supcon.metrics.geometry import (
    GEOMETRY_METRICS,
    alignment_uniformity,
    class_collapse,
    embedding_geometry,
    simplex_deviation,
)
from proglearn_supcon.metrics.rank import effective_rank, effective_rank_ceiling


def random_rotation(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def gaussian_classes(n_classes: int, d: int, seed: int = 0, counts=None):
    """Gaussian classes with unequal sizes and spreads around random means."""
    rng = np.random.default_rng(seed)
    counts = counts or [5 + 3 * c for c in range(n_classes)]
    means = rng.normal(scale=2.0, size=(n_classes, d))
    X = np.concatenate([means[c] + (0.5 + 0.2 * c) * rng.normal(size=(n, d)) for c, n in enumerate(counts)])
    y = np.repeat(np.arange(n_classes) * 10 + 3, counts)  # labels that are not 0..C-1
    order = rng.permutation(len(y))
    return X[order], y[order]


# ----------------------------------------------------------------------------- naive references


def naive_geometry(X, y) -> dict[str, float]:
    """The metrics written out literally: loops over classes and pairs, pinv, full SVD."""
    classes = np.unique(y)
    C, n = len(classes), len(y)
    means = np.array([X[y == c].mean(axis=0) for c in classes])
    mu = means.mean(axis=0)
    Sw = sum(np.outer(X[i] - means[classes == y[i]][0], X[i] - means[classes == y[i]][0]) for i in range(n)) / n
    Sb = sum(np.outer(m - mu, m - mu) for m in means) / C
    nc1 = np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10, hermitian=True)) / C
    centred = [m - mu for m in means]
    cosines = [a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a, b in itertools.combinations(centred, 2)]
    norms = [np.linalg.norm(m) for m in centred]
    u = [x / np.linalg.norm(x) for x in X]
    positives = [np.sum((u[i] - u[j]) ** 2) for i in range(n) for j in range(n) if i != j and y[i] == y[j]]
    kernel = [np.exp(-2 * np.sum((u[i] - u[j]) ** 2)) for i in range(n) for j in range(n) if i != j]
    s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    p = s[s > 1e-12 * s[0]] / s.sum()
    return {
        "nc1": nc1,
        "variance_ratio": np.trace(Sw) / np.trace(Sb),
        "angle_deviation": np.mean([abs(c + 1 / (C - 1)) for c in cosines]),
        "norm_spread": np.std(norms) / np.mean(norms),
        "alignment": np.mean(positives),
        "uniformity": np.log(np.mean(kernel)),
        "effective_rank": np.exp(-np.sum(p * np.log(p))),
        "effective_rank_ceiling": min(n - 1, X.shape[1]),
    }


def separate(X, y) -> dict[str, float]:
    """Each public metric called on its own."""
    return {
        **class_collapse(X, y)._asdict(),
        **simplex_deviation(X, y)._asdict(),
        **alignment_uniformity(X, y, block_size=7)._asdict(),  # several blocks, one partial
        "effective_rank": effective_rank(X),
        "effective_rank_ceiling": effective_rank_ceiling(*np.shape(X)),
    }


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("counts", [[4, 4, 4, 4, 4], [2, 3, 4, 5, 6]])
def test_perfect_simplex_with_no_spread(counts):
    C, d = 5, 8
    vertices = np.eye(C, d) - np.eye(C, d).mean(axis=0)  # a regular simplex, centred at 0
    y = np.repeat(np.arange(C), counts)
    X = 3.0 * vertices[y] @ random_rotation(d, 1) + 7.0  # rotated, scaled, translated
    geometry = embedding_geometry(X, y)
    for name in ("nc1", "variance_ratio", "angle_deviation", "norm_spread"):
        assert geometry[name] == pytest.approx(0.0, abs=1e-12), name
    if len(set(counts)) == 1:  # balanced: the centred rows span C - 1 equal directions
        assert geometry["effective_rank"] == pytest.approx(C - 1)


def test_effective_rank_known_values():
    assert effective_rank(np.eye(6), center=False) == pytest.approx(6.0)
    assert effective_rank(np.diag([2.0, 2.0, 0.0, 0.0]), center=False) == pytest.approx(2.0)
    line = np.outer(np.arange(10.0), [1.0, -2.0, 0.5])
    assert effective_rank(line) == pytest.approx(1.0)
    assert np.isnan(effective_rank(np.ones((4, 3))))  # centred to zero: no spectrum


@pytest.mark.parametrize("n, d", [(5, 40), (40, 5), (6, 5)])
def test_effective_rank_stays_below_its_ceiling(n, d):
    # Isotropic points with equal singular values reach the ceiling; n centred points span only n - 1 directions.
    X = np.random.default_rng(n * d).normal(size=(n, d))
    ceiling = effective_rank_ceiling(n, d)
    assert ceiling == min(n - 1, d) and effective_rank_ceiling(n, d, center=False) == min(n, d)
    assert 1.0 <= effective_rank(X) <= ceiling + 1e-9
    assert embedding_geometry(X, np.arange(n) % 2)["effective_rank_ceiling"] == ceiling
    u, _, vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    assert effective_rank(u @ vt) == pytest.approx(ceiling)  # equal singular values: exactly the ceiling
    with pytest.raises(ValueError, match="n >= 2"):
        effective_rank_ceiling(1, d)
    with pytest.raises(ValueError, match="d >= 1"):
        effective_rank_ceiling(n, 0)


@pytest.mark.parametrize(
    "n_classes, d", [(3, 40), (4, 30), (6, 3), (3, 2)]
)  # n = 24 <= d and n > d; S_B full rank or not
def test_gaussian_classes_match_naive_numpy(n_classes, d):
    X, y = gaussian_classes(n_classes, d, seed=n_classes + d)
    expected = naive_geometry(X, y)
    combined = embedding_geometry(X, y)
    assert tuple(combined) == GEOMETRY_METRICS
    for name in GEOMETRY_METRICS:
        assert combined[name] == pytest.approx(expected[name], rel=1e-8), name
        assert separate(X, y)[name] == pytest.approx(expected[name], rel=1e-8), name
    # Sanity of scale: Gaussian classes are far from collapse and far from a simplex.
    assert expected["nc1"] > 1e-3 and expected["angle_deviation"] > 1e-3


def test_float32_input_and_shapes():
    X, y = gaussian_classes(3, 40, seed=2)
    assert embedding_geometry(X.astype(np.float32), list(y)) == pytest.approx(embedding_geometry(X, y), rel=1e-5)


def test_invariances():
    X, y = gaussian_classes(4, 12, seed=3)
    base = embedding_geometry(X, y)
    rotated = embedding_geometry(X @ random_rotation(12, 4), y)
    scaled = embedding_geometry(5.5 * X, y)
    shifted = embedding_geometry(X + 3.0, y)
    for name in GEOMETRY_METRICS:
        assert rotated[name] == pytest.approx(base[name], rel=1e-9), name
        assert scaled[name] == pytest.approx(base[name], rel=1e-9), name
    for name in ("nc1", "variance_ratio", "angle_deviation", "norm_spread", "effective_rank"):
        assert shifted[name] == pytest.approx(base[name], rel=1e-9), name
    # Normalising about the origin is not translation invariant, as documented.
    assert abs(shifted["alignment"] - base["alignment"]) > 1e-3
    assert abs(shifted["uniformity"] - base["uniformity"]) > 1e-3
    # A non-uniform scaling does change the class geometry.
    stretched = embedding_geometry(X * np.linspace(0.1, 3.0, 12), y)
    assert abs(stretched["nc1"] - base["nc1"]) > 1e-3


def test_degenerate_geometries_are_nan_not_zero():
    X = np.ones((6, 3))
    y = np.array([0, 0, 1, 1, 2, 2])
    assert np.isnan(class_collapse(X, y)).all()  # identical class means: no between-class scatter
    assert np.isnan(simplex_deviation(X, y)).all()
    X[:2] += 1.0
    X[2:4] -= 1.0  # class means 2, 0, 1: class 2 sits at their centre, so its angle is undefined
    deviation = simplex_deviation(X, y)
    assert np.isnan(deviation.angle_deviation) and np.isfinite(deviation.norm_spread)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.ones((4, 2)), [1, 1, 1, 1], "at least 2 classes, got 1"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), [0, 1], "NaN"),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), [0, 1], "infinity"),
        (np.ones((4, 2)), [0, 1, 0], "different lengths: 4 and 3"),
        (np.ones((3, 2)), [0.0, 1.0, np.nan], "y contains NaN"),
        (np.ones(4), [0, 1, 0, 1], "2D array"),
    ],
)
@pytest.mark.parametrize("metric", [class_collapse, simplex_deviation, alignment_uniformity, embedding_geometry])
def test_bad_input_is_a_clear_error(metric, X, y, match):
    with pytest.raises(ValueError, match=match):
        metric(X, y)


def test_bad_parameters():
    X, y = gaussian_classes(2, 3)
    with pytest.raises(ValueError, match="t must be > 0"):
        alignment_uniformity(X, y, t=0.0)
    with pytest.raises(ValueError, match="positive pair"):
        alignment_uniformity(np.eye(3), [0, 1, 2])
    with pytest.raises(ValueError, match="at least 2 rows"):
        effective_rank(np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        effective_rank(np.array([[np.nan, 1.0], [1.0, 1.0]]))
