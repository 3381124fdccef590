"""Tests of proglearn_supcon.metrics.transfer against numbers worked out by hand."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from proglearn_supcon.metrics.transfer import (
    TransferMetrics,
    mean_and_interval,
    paired_difference,
    smoothed_error,
    transfer_matrix,
    transfer_metrics,
)
from proglearn_supcon.voters import KNNClassificationVoter

NAN = np.nan

# Accuracies that are exact binary fractions, so errors (1 - acc) are exact:
#   errors e[j, t]          single-task errors
#   j=0: 0.5                e_s = [0.5, 0.75, 0.5]
#   j=1: 0.25  0.5
#   j=2: 0.125 0.25 0.75
ACC = np.array(
    [
        [0.5, NAN, NAN],
        [0.75, 0.5, NAN],
        [0.875, 0.75, 0.25],
    ]
)
SINGLE = np.array([0.5, 0.25, 0.5])


def test_hand_computed_three_tasks():
    m = transfer_metrics(ACC, SINGLE)
    assert isinstance(m, TransferMetrics)
    assert m.n_tasks == 3
    # FTE_t = e_s(t) / e(t, t) = 0.5/0.5, 0.75/0.5, 0.5/0.75
    np.testing.assert_allclose(m.fte, [1.0, 1.5, 2.0 / 3.0], rtol=1e-12)
    # BTE[j, t] = e(t, t) / e(j, t)
    expected_bte = np.array(
        [
            [1.0, NAN, NAN],
            [0.5 / 0.25, 1.0, NAN],  # 2
            [0.5 / 0.125, 0.5 / 0.25, 1.0],  # 4, 2
        ]
    )
    np.testing.assert_allclose(m.bte, expected_bte, rtol=1e-12)
    # TE[j, t] = e_s(t) / e(j, t)
    expected_te = np.array(
        [
            [1.0, NAN, NAN],
            [0.5 / 0.25, 0.75 / 0.5, NAN],  # 2, 1.5
            [0.5 / 0.125, 0.75 / 0.25, 0.5 / 0.75],  # 4, 3, 2/3
        ]
    )
    np.testing.assert_allclose(m.te, expected_te, rtol=1e-12)
    # TE = FTE * BTE, and the diagonal of TE is FTE.
    np.testing.assert_allclose(m.te, m.fte[None, :] * m.bte, rtol=1e-12)
    np.testing.assert_allclose(np.diag(m.te), m.fte, rtol=1e-12)
    # (0.875 + 0.75 + 0.25) / 3 and the running means 0.5, (0.75+0.5)/2, 0.625
    assert m.final_accuracy == pytest.approx(0.625)
    np.testing.assert_allclose(m.mean_accuracy, [0.5, 0.625, 0.625], rtol=1e-12)
    assert isinstance(m.final_accuracy, float)


def test_logs_match_ratios_and_shapes():
    m = transfer_metrics(ACC, SINGLE)
    np.testing.assert_allclose(m.log_fte, np.log([1.0, 1.5, 2.0 / 3.0]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m.log_bte[2], [math.log(4), math.log(2), 0.0], atol=1e-15)
    np.testing.assert_allclose(m.log_te[2], [math.log(4), math.log(3), math.log(2 / 3)], rtol=1e-12)
    assert m.fte.shape == m.log_fte.shape == (3,)
    assert m.bte.shape == m.te.shape == m.log_bte.shape == m.log_te.shape == (3, 3)
    assert m.fte.dtype == np.float64


def test_non_binary_accuracies():
    # e = [[0.5], [0.4, 0.25]], e_s = [0.5, 0.5]: FTE = [1, 2], BTE[1, 0] = 1.25, TE[1, 0] = 1.25
    m = transfer_metrics([[0.5, NAN], [0.6, 0.75]], [0.5, 0.5])
    np.testing.assert_allclose(m.fte, [1.0, 2.0])
    assert m.bte[1, 0] == pytest.approx(1.25)
    assert m.te[1, 0] == pytest.approx(1.25)
    # e_s = 0.2 (accuracy 0.8): FTE = 0.2 / 0.5 = 0.4
    assert transfer_metrics([[0.5]], [0.8]).fte[0] == pytest.approx(0.4)


def test_upper_triangle_is_nan_even_if_given():
    acc = ACC.copy()
    acc[0, 1] = 0.3  # an evaluation of a future task: ignored
    m = transfer_metrics(acc, SINGLE)
    upper = np.triu(np.ones((3, 3), dtype=bool), k=1)
    assert np.isnan(m.bte[upper]).all() and np.isnan(m.te[upper]).all()
    assert m.mean_accuracy[0] == 0.5


def test_nan_single_task_accuracy_propagates():
    m = transfer_metrics(ACC, [0.5, NAN, 0.5])
    assert np.isnan(m.fte[1]) and np.isnan(m.te[1:, 1]).all()
    assert m.fte[0] == 1.0
    assert not np.isnan(m.bte[2, 1])


def test_zero_error_is_smoothed_and_finite_without_warnings():
    # Task 0: perfect after task 0 and after task 1; task 1: perfect single-task learner.
    acc = [[1.0, NAN], [1.0, 0.5]]
    single = [0.5, 1.0]
    n = np.array([98, 8])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = transfer_metrics(acc, single, n_test=n)
    # (mistakes + 1) / (n + 2), worked out by hand:
    e_single = [(49 + 1) / 100, (0 + 1) / 10]
    e = {(0, 0): 1 / 100, (1, 0): 1 / 100, (1, 1): (4 + 1) / 10}
    assert m.fte.tolist() == pytest.approx([e_single[0] / e[0, 0], e_single[1] / e[1, 1]])
    assert m.fte.tolist() == pytest.approx([50.0, 0.2])
    assert m.bte[1, 0] == pytest.approx(1.0) and m.bte[1, 1] == pytest.approx(1.0)
    assert m.te[1, 0] == pytest.approx(50.0) and m.te[1, 1] == pytest.approx(0.2)
    seen = np.tril(np.ones((2, 2), dtype=bool))
    for values in (m.fte, m.bte[seen], m.te[seen], m.log_fte, m.log_bte[seen], m.log_te[seen]):
        assert np.isfinite(values).all()
    # One count for every task is the same as a constant array.
    same = transfer_metrics(acc, single, n_test=98)
    assert same.fte[0] == pytest.approx(50.0) and same.fte[1] == pytest.approx((1 / 100) / (50 / 100))


def test_smoothed_error_matches_formula_and_is_close_to_raw():
    assert smoothed_error(1.0, 98) == pytest.approx(0.01)
    assert smoothed_error(0.0, 8) == pytest.approx(0.9)
    acc = np.array([0.25, 0.5, 0.875])
    e = smoothed_error(acc, 1000)
    np.testing.assert_allclose(e, (1000 * (1 - acc) + 1) / 1002)
    assert np.all(np.abs(e - (1 - acc)) < 1 / 1002)


def test_zero_error_without_n_test_is_refused():
    with pytest.raises(ValueError, match=r"acc\[1, 0\] is 1 .*pass n_test"):
        transfer_metrics([[0.5, NAN], [1.0, 0.5]], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"single_acc\[1\] is 1"):
        transfer_metrics([[0.5, NAN], [0.5, 0.5]], [0.5, 1.0])


@pytest.mark.parametrize("n_test", [0, -5, 2.5, [10], [10, 10, 10], np.inf])
def test_bad_n_test(n_test):
    with pytest.raises(ValueError, match="n_test"):
        transfer_metrics([[0.5, NAN], [0.5, 0.5]], [0.5, 0.5], n_test=n_test)


@pytest.mark.parametrize(
    "acc, single, match",
    [
        (np.full((2, 3), 0.5), [0.5, 0.5], "square"),
        ([0.5, 0.5], [0.5, 0.5], "square"),
        (np.zeros((0, 0)), [], "square"),
        ([[0.5, NAN], [0.5, 0.5]], [0.5], r"single_acc must have shape \(2,\)"),
        ([[0.5, NAN], [1.5, 0.5]], [0.5, 0.5], r"\[0, 1\]"),
        ([[0.5, NAN], [-0.1, 0.5]], [0.5, 0.5], r"\[0, 1\]"),
        ([[0.5, NAN], [np.inf, 0.5]], [0.5, 0.5], r"\[0, 1\]"),
        ([[0.5, NAN], [0.5, 0.5]], [0.5, 2.0], r"single_acc.*\[0, 1\]"),
        ([[0.5, NAN], [0.5, NAN]], [0.5, 0.5], r"acc\[1, 1\] is NaN"),
        ([[0.5, NAN], [NAN, 0.5]], [0.5, 0.5], r"acc\[1, 0\] is NaN"),
    ],
)
def test_validation_errors(acc, single, match):
    with pytest.raises(ValueError, match=match):
        transfer_metrics(acc, single)


def test_frozen():
    m = transfer_metrics(ACC, SINGLE)
    with pytest.raises(AttributeError):
        m.final_accuracy = 0.0


def test_mean_and_interval_by_hand():
    values = np.array(
        [
            [1.0, 2.0, NAN, NAN],
            [2.0, NAN, NAN, NAN],
            [4.0, 6.0, 7.0, NAN],
            [5.0, NAN, NAN, NAN],
        ]
    )
    mean, low, high = mean_and_interval(values)
    # column 0: n = 4, mean 3, s^2 = (4 + 1 + 1 + 4) / 3
    half0 = stats.t.ppf(0.975, 3) * math.sqrt(10 / 3) / math.sqrt(4)
    # column 1: n = 2 (NaNs ignored), mean 4, s^2 = (4 + 4) / 1
    half1 = stats.t.ppf(0.975, 1) * math.sqrt(8) / math.sqrt(2)
    np.testing.assert_allclose(mean[:3], [3.0, 4.0, 7.0])
    np.testing.assert_allclose(low[:2], [3.0 - half0, 4.0 - half1])
    np.testing.assert_allclose(high[:2], [3.0 + half0, 4.0 + half1])
    # column 2 has one value (no interval), column 3 none (no mean either)
    assert np.isnan(low[2]) and np.isnan(high[2])
    assert np.isnan(mean[3]) and np.isnan(low[3]) and np.isnan(high[3])


def test_mean_and_interval_axis_confidence_and_1d():
    values = np.array([[1.0, 2.0, 4.0, 5.0], [0.0, 1.0, 1.0, 2.0]])
    mean, low, high = mean_and_interval(values, axis=1, confidence=0.9)
    half = stats.t.ppf(0.95, 3) * np.std(values, axis=1, ddof=1) / 2.0
    np.testing.assert_allclose(mean, [3.0, 1.0])
    np.testing.assert_allclose(high - mean, half)
    np.testing.assert_allclose(mean - low, half)
    m1, l1, h1 = mean_and_interval([2.0, 2.0, 2.0])
    assert (m1, l1, h1) == (2.0, 2.0, 2.0)  # no spread, zero width
    with pytest.raises(ValueError, match="confidence"):
        mean_and_interval(values, confidence=1.0)


def test_paired_difference():
    a = np.array([[0.5, 0.7], [0.6, NAN], [0.9, 0.8]])
    b = np.array([[0.4, 0.6], [0.4, 0.5], [0.6, 0.8]])
    mean, low, high = paired_difference(a, b)
    ref = mean_and_interval(a - b)
    for got, want in zip((mean, low, high), ref):
        np.testing.assert_allclose(got, want)
    # column 0 differences 0.1, 0.2, 0.3: mean 0.2, s = 0.1
    half = stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert mean[0] == pytest.approx(0.2)
    assert (low[0], high[0]) == pytest.approx((0.2 - half, 0.2 + half))
    with pytest.raises(ValueError, match="same shape"):
        paired_difference(a, b[:2])


# ----------------------------------------------------------------------------- transfer matrix


def fitted_transfer_problem(n_tasks: int = 3, seed: int = 0):
    """Voters (i, j) fitted on task j in a random linear 'embedding' of transformer i, their test posteriors."""
    rng = np.random.default_rng(seed)
    projections = [rng.normal(size=(4, 3 + i)) for i in range(n_tasks)]  # transformer i: 4 -> 3 + i dims
    voters, embeddings, posteriors, classes, labels = {}, [], [], [], []
    for j in range(n_tasks):
        task_classes = np.array([10 * j, 10 * j + 1, 10 * j + 2])
        centres = rng.normal(scale=1.5, size=(3, 4))
        y_fit, y_test = rng.choice(task_classes, 30), rng.choice(task_classes, 25)
        X_fit = centres[y_fit - 10 * j] + rng.normal(size=(30, 4))
        X_test = centres[y_test - 10 * j] + rng.normal(size=(25, 4))
        for i, P in enumerate(projections):
            voters[(i, j)] = KNNClassificationVoter(k=3, classes=task_classes).fit(X_fit @ P, y_fit)
        embeddings.append({i: X_test @ P for i, P in enumerate(projections)})
        posteriors.append({i: voters[(i, j)].predict_proba(embeddings[j][i]) for i in range(n_tasks)})
        classes.append(task_classes)
        labels.append(y_test)
    return voters, embeddings, posteriors, classes, labels


def test_transfer_matrix_is_each_voter_alone():
    voters, embeddings, posteriors, classes, labels = fitted_transfer_problem()
    matrix = transfer_matrix(posteriors, classes, labels)
    assert matrix.shape == (3, 3) and matrix.dtype == np.float64
    for i in range(3):
        for j in range(3):
            assert matrix[i, j] == np.mean(voters[(i, j)].predict(embeddings[j][i]) == labels[j])
    assert 0.0 < matrix.min() and len(np.unique(matrix)) > 1  # non-trivial accuracies


def test_transfer_matrix_errors():
    _, _, posteriors, classes, labels = fitted_transfer_problem()
    with pytest.raises(ValueError, match="one entry per task; got 2, 3 and 3"):
        transfer_matrix(posteriors[:2], classes, labels)
    del posteriors[0][2]
    with pytest.raises(ValueError, match=r"pairs \[\(2, 0\)\]"):
        transfer_matrix(posteriors, classes, labels)
    _, _, posteriors, classes, labels = fitted_transfer_problem()
    labels[1] = labels[1][:-1]
    with pytest.raises(ValueError, match=r"posteriors\[1\]\[0\] has shape \(25, 3\), expected \(24, 3\)"):
        transfer_matrix(posteriors, classes, labels)


def test_transfer_matrix_old_import_path():
    from proglearn_supcon.metrics import geometry

    assert geometry.transfer_matrix is transfer_matrix
