"""The principal projection of a transformer's embeddings for its voters (proglearn_supcon/reduction.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.exceptions import NotFittedError

from proglearn_supcon.reduction import PrincipalProjection


def low_rank(n=120, d=40, rank=6, offset=3.0, seed=0):
    """Rows in a ``rank``-dimensional subspace, shifted away from the origin by ``offset``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) + offset
    return X.astype(np.float32)


@pytest.mark.parametrize("center, reference", [(True, PCA), (False, TruncatedSVD)])
def test_matches_scikit_learn_up_to_the_sign_of_each_direction(center, reference):
    X = low_rank(rank=12)
    ours = PrincipalProjection(5, center=center).fit(X)
    expected = reference(n_components=5, **({} if center else {"algorithm": "arpack"})).fit(X)
    signs = np.sign(np.sum(ours.components_ * expected.components_, axis=1, keepdims=True))
    np.testing.assert_allclose(ours.components_ * signs, expected.components_, atol=1e-4)
    np.testing.assert_allclose(ours.transform(X) * signs.T, expected.transform(X), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("center", [True, False])
def test_keeps_distances_and_angles_within_the_span(center):
    X = low_rank(rank=6, offset=3.0)
    projection = PrincipalProjection(6 if center else 7, center=center).fit(X)  # +1: the offset's direction
    Z = projection.transform(X)
    assert projection.retained_energy_ == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(projection.components_ @ projection.components_.T, np.eye(len(Z.T)), atol=1e-5)
    if center:  # distances between points
        np.testing.assert_allclose(
            np.linalg.norm(Z[:, None] - Z[None], axis=2), np.linalg.norm(X[:, None] - X[None], axis=2), rtol=1e-3
        )
    else:  # lengths and angles from the origin, what the cosine metric compares
        np.testing.assert_allclose(Z @ Z.T, X.astype(np.float64) @ X.T, rtol=1e-3, atol=1e-2)


def test_the_mean_is_kept_only_when_centring():
    X = low_rank()
    np.testing.assert_allclose(PrincipalProjection(3).fit(X).mean_, X.mean(axis=0), rtol=1e-5)
    assert not PrincipalProjection(3, center=False).fit(X).mean_.any()


def test_directions_are_capped_by_the_fit_data():
    X = low_rank(n=10, d=40)
    projection = PrincipalProjection(300).fit(X)
    assert projection.n_components_ == 10 and projection.transform(X).shape == (10, 10)
    assert PrincipalProjection(300).fit(X[:, :4]).n_components_ == 4


def test_fewer_directions_keep_less_energy():
    X = low_rank(rank=10)
    energies = [PrincipalProjection(m).fit(X).retained_energy_ for m in (1, 3, 10)]
    assert energies[0] < energies[1] < energies[2] == pytest.approx(1.0, abs=1e-6)


def test_transform_output_and_checks():
    X = low_rank()
    projection = PrincipalProjection(4).fit(X)
    Z = projection.transform(X[:7])
    assert Z.dtype == np.float32 and Z.shape == (7, 4)
    with pytest.raises(ValueError, match="40"):
        projection.transform(X[:, :5])
    with pytest.raises(NotFittedError):
        PrincipalProjection(4).transform(X)


@pytest.mark.parametrize("params", [{"n_components": 0}, {"n_components": 2.5}, {"n_components": True}, {"center": 1}])
def test_bad_parameters(params):
    with pytest.raises(ValueError, match=next(iter(params))):
        PrincipalProjection(**{"n_components": 3, **params}).fit(low_rank())
