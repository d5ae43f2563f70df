"""Number checks shared by the whole package.

Each raises `ValueError` with a message that names the argument, says
what is allowed and echoes the value received, so a typo in a config
is found where the object is built, not inside a training step.
"""

import math
import numbers


def is_real(value):
    """A real number that is not a bool (numpy scalars included)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_float(
    value,
    name,
    *,
    low=0.0,
    high=math.inf,
    low_closed=False,
    high_closed=False,
    allow_none=False,
):
    """Returns `value` as a float if it lies in the interval from `low`
    to `high` (open at both ends unless told), else raises. With
    `allow_none`, None passes through."""
    if value is None and allow_none:
        return None
    ok = is_real(value) and math.isfinite(value)
    if ok:
        above = value >= low if low_closed else value > low
        below = value <= high if high_closed else value < high
        ok = above and below
    if not ok:
        allowed = _describe(low, high, low_closed, high_closed)
        if allow_none:
            allowed += " or None"
        raise ValueError(
            f"Argument `{name}` must be {allowed}. Received: {name}={value!r}"
        )
    return float(value)


def check_int(value, name, low):
    """Returns `value` as an int if it is an integer >= `low`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise ValueError(
            f"Argument `{name}` must be an int >= {low}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _describe(low, high, low_closed, high_closed):
    if high == math.inf:
        if low == 0.0 and not low_closed:
            return "a positive finite float"
        return f"a finite float {'>=' if low_closed else '>'} {low:g}"
    left = "[" if low_closed else "("
    right = "]" if high_closed else ")"
    return f"a float in {left}{low:g}, {high:g}{right}"
