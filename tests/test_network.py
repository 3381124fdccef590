import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator

from proglearn_supcon import LifelongClassificationNetwork, SupConKNNClassifier


def test_constructor_only_stores_parameters():
    net = LifelongClassificationNetwork(loss="ce", epochs=3, k=5, random_state=1)
    assert net.get_params()["loss"] == "ce" and net.get_params()["k"] == 5
    assert not hasattr(net, "learner_")
    net.set_params(loss="tcl", temperature=0.2)
    assert net.loss == "tcl" and net.temperature == 0.2
    cloned = clone(net)
    assert cloned.get_params() == net.get_params()


def test_bad_parameters_fail_before_training(blob_images, monkeypatch):
    X, y = blob_images([0, 1], 10)

    def no_training(*args, **kwargs):
        raise AssertionError("a transformer started training")

    monkeypatch.setattr("proglearn_supcon.transformers.NeuralClassificationTransformer.fit", no_training)
    for params, match in [
        ({"loss": "hinge"}, "loss"),
        ({"metric": "l1"}, "metric"),
        ({"transformer_split": 1.0}, "transformer_split"),
        ({"voter_dim": 0}, "voter_dim must be an integer >= 1 or None, got 0"),
        ({"voter_dim": 2.5}, "voter_dim"),
        ({"voter_dim": True}, "voter_dim"),
        ({"voter_dim": "300"}, "voter_dim"),
        ({"voter_dtype": "float64"}, "voter_dtype must be one of"),
        ({"voter_dtype": "fp16"}, "voter_dtype"),
    ]:
        net = LifelongClassificationNetwork(**params)
        with pytest.raises(ValueError, match=match):
            net.add_task(X, y)
        assert not hasattr(net, "learner_")


@pytest.mark.slow
def test_classifier_on_images(blob_images, fast_params):
    X, y = blob_images([0, 1, 2], 30, seed=1)
    Xt, yt = blob_images([0, 1, 2], 20, seed=2)
    clf = SupConKNNClassifier(random_state=0, **fast_params()).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.score(Xt, yt) >= 0.8
    assert clf.predict_proba(Xt).shape == (60, 3)
    assert clf.embed(Xt).shape == (60, 2000)
    with pytest.raises(NotFittedError):
        SupConKNNClassifier().predict(Xt)


@pytest.mark.slow
def test_check_estimator_on_small_2d_arrays():
    """scikit-learn's estimator checks (2-D arrays); exemptions are declared on the class."""
    start = time.perf_counter()
    check_estimator(SupConKNNClassifier(epochs=5, patience=5, batch_size=32, device="cpu", random_state=0))
    assert time.perf_counter() - start < 120


@pytest.mark.slow
def test_bad_set_params_after_a_task_fails_before_training(monkeypatch, blob_images, fast_params):
    X, y = blob_images([0, 1], 10)
    net = LifelongClassificationNetwork(random_state=0, **fast_params(epochs=1)).add_task(X, y)
    net.set_params(metric="l1")

    def no_training(*args, **kwargs):
        raise AssertionError("a transformer started training")

    monkeypatch.setattr("proglearn_supcon.transformers.NeuralClassificationTransformer.fit", no_training)
    with pytest.raises(ValueError, match="metric"):
        net.add_task(X, y)
    assert net.task_ids_ == [0]
