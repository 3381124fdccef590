"""A model saved by an earlier version of the library still loads and predicts the same.

``fixtures/saved_model_0.1.pt`` was written at commit 89d57b1 by
``fixtures/make_saved_model.py``, before modules moved (issue 30); it pickles
the module paths of that time. The ``.npz`` beside it holds the inputs and the
posteriors that model gave then.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proglearn_supcon import LifelongClassificationNetwork

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_model_saved_before_the_layout_move_loads_and_predicts_the_same():
    net = LifelongClassificationNetwork.load(FIXTURES / "saved_model_0.1.pt", device="cpu")
    expected = np.load(FIXTURES / "saved_model_0.1.npz")
    X = expected["X"]
    assert net.task_ids_ == ["a", "b"]
    np.testing.assert_array_equal(net.predict_proba(X, "a"), expected["proba_a"])
    np.testing.assert_array_equal(net.predict_proba(X, "b"), expected["proba_b"])
    np.testing.assert_array_equal(net.learner_.predict_proba(X, "a", decider="average"), expected["proba_a_average"])
    np.testing.assert_array_equal(np.array(list(net.decider_weights_["a"].values())), expected["weights_a"])
