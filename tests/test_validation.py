"""Tests of proglearn_supcon.validation helpers not covered through the estimators."""

import numpy as np

from proglearn_supcon.validation import is_int


def test_is_int_accepts_numpy_integers_and_refuses_bools():
    assert all(is_int(v) for v in (3, np.int64(3), np.uint8(3)))
    assert not any(is_int(v) for v in (True, np.bool_(True), 3.0, np.float32(3), "3", None))
