"""Argument checks shared by the initializers.

Every message names the argument, echoes the value received and says what
is allowed, so that a typo in a config file is found at construction time
rather than deep inside `model.build()`.
"""

import numbers

import keras

from keras_initplus.validation import check_float

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def check_gain(gain, name="gain"):
    """Returns `gain` as a float, or raises if it is not positive and finite.

    Zero is refused with the negatives: a zero kernel makes every unit of a
    layer compute the same function, which is the symmetry an initializer
    exists to break.
    """
    if isinstance(gain, bool) or not isinstance(gain, numbers.Real):
        raise TypeError(
            f"Argument `{name}` must be a positive finite number or the name "
            f"of an activation (see `keras_initplus.calculate_gain`). "
            f"Received: {name}={gain!r} of type {type(gain).__name__}"
        )
    return check_float(gain, name)


def check_seed(seed):
    """Accepts None, a non-negative int or a `keras.random.SeedGenerator`."""
    if seed is None or isinstance(seed, keras.random.SeedGenerator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            "Argument `seed` must be None, a non-negative integer or a "
            "`keras.random.SeedGenerator`. "
            f"Received: seed={seed!r} of type {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(
            "Argument `seed` must be None, a non-negative integer or a "
            f"`keras.random.SeedGenerator`. Received: seed={seed!r}"
        )
    return int(seed)


def check_dtype(dtype):
    """Returns the standardized float dtype, defaulting to `floatx()`."""
    if dtype is None:
        dtype = keras.config.floatx()
    try:
        name = keras.backend.standardize_dtype(dtype)
    except (ValueError, TypeError, AttributeError):
        name = str(dtype)
    if name not in FLOAT_DTYPES:
        raise ValueError(
            f"Argument `dtype` must be one of {FLOAT_DTYPES}. "
            f"Received: dtype={dtype!r}"
        )
    return name


def check_shape(shape, min_rank=1, max_rank=None, what="a kernel"):
    """Returns `shape` as a tuple of positive ints, or raises."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(
            "Argument `shape` must be a tuple of positive integers. "
            f"Received: shape={shape!r}"
        ) from None
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
        for d in dims
    ):
        raise ValueError(
            "Argument `shape` must be a non-empty tuple of positive "
            f"integers. Received: shape={shape!r}"
        )
    rank = len(dims)
    if rank < min_rank or (max_rank is not None and rank > max_rank):
        allowed = (
            f"at least {min_rank}"
            if max_rank is None
            else f"between {min_rank} and {max_rank}"
        )
        raise ValueError(
            f"Argument `shape` must have rank {allowed} for {what}. "
            f"Received: shape={dims} of rank {rank}"
        )
    return tuple(int(d) for d in dims)
