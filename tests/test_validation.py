"""The shared number checks: what passes, and what the message says."""

import math

import numpy as np
import pytest

from keras_initplus.validation import check_float, check_int


@pytest.mark.parametrize(
    "kwargs, value, allowed",
    [
        ({}, 0.0, "a positive finite float"),
        ({}, math.inf, "a positive finite float"),
        ({}, True, "a positive finite float"),
        ({"low": 1.0}, 1.0, "a finite float > 1"),
        ({"low": 1.0, "low_closed": True}, 0.5, "a finite float >= 1"),
        ({"high": 1.0}, 1.0, "a float in (0, 1)"),
        ({"high": 100.0, "high_closed": True}, 101, "a float in (0, 100]"),
        ({"allow_none": True}, -1, "a positive finite float or None"),
        ({}, "1.0", "a positive finite float"),
    ],
)
def test_float_refused_with_the_allowed_range(kwargs, value, allowed):
    with pytest.raises(ValueError) as info:
        check_float(value, "arg", **kwargs)
    assert str(info.value) == (
        f"Argument `arg` must be {allowed}. Received: arg={value!r}"
    )


def test_float_accepted_values():
    assert check_float(np.float32(0.5), "a", high=1.0) == 0.5
    assert check_float(100, "a", high=100.0, high_closed=True) == 100.0
    assert check_float(None, "a", allow_none=True) is None
    assert type(check_float(3, "a")) is float


def test_int():
    assert check_int(np.int64(2), "n", 2) == 2
    for bad in (1, 2.0, True, "3"):
        with pytest.raises(ValueError, match=r"`n` must be an int >= 2\."):
            check_int(bad, "n", 2)
