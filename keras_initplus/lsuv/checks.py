"""Argument checks for `lsuv_init`, run before any weight is touched.

Every message names the argument, echoes the value and says what is
allowed.
"""

import keras
from keras import tree

from keras_initplus.validation import check_batch

VERBOSE = ("auto", 0, 1, 2)


def check_verbose(verbose):
    if isinstance(verbose, bool) or verbose not in VERBOSE:
        raise ValueError(
            f"Argument `verbose` must be one of {VERBOSE}. "
            f"Received: verbose={verbose!r}"
        )
    return 1 if verbose == "auto" else verbose


def check_layers(layers):
    """None, "all", or a list of layer names and/or layer instances."""
    if layers is None or layers == "all":
        return layers
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        layers = None
    if layers is None or not all(
        isinstance(x, (str, keras.layers.Layer)) for x in layers
    ):
        raise TypeError(
            "Argument `layers` must be None (the layers whose kernel "
            'initializer is LSUV), "all" (every layer with a supported '
            "kernel) or a list of layer names or layers. "
            f"Received: layers={layers!r}"
        )
    return layers


def check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument `model` must be a `keras.Model`. "
            f"Received: model={model!r} of type {type(model).__name__}"
        )
    return model


def _describe(value):
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    return f"array of shape {tuple(shape)} and dtype {dtype}"


def check_x(x, inputs=None):
    """Returns `x` with its leaves as numpy arrays, or raises.

    A nested list is read as `np.asarray` would, in the dtype of the
    model input (`inputs`) it feeds. Refuses non-numeric dtypes, ragged
    lists, empty batches and non-finite values.
    """
    return check_batch(x, inputs)


def check_x_fits(x, inputs):
    """Checks `x` (numpy leaves) against a model's symbolic `inputs`."""
    flat = tree.flatten(x)
    if isinstance(x, dict):
        names = [t.name for t in inputs]
        if set(x) >= set(names):
            flat = [x[name] for name in names]
    if len(flat) != len(inputs):
        raise ValueError(
            f"Argument `x` must provide {len(inputs)} input array(s), one "
            f"for each model input {[t.name for t in inputs]}. "
            f"Received: {len(flat)} array(s)"
        )
    for leaf, ref in zip(flat, inputs):
        expected = tuple(ref.shape)
        fits = len(leaf.shape) == len(expected) and all(
            e is None or e == d for e, d in zip(expected, leaf.shape)
        )
        if not fits:
            raise ValueError(
                f"Argument `x` does not fit model input '{ref.name}', "
                f"which expects shape {expected} (None: any size). "
                f"Received: x={_describe(leaf)}"
            )
        want = keras.backend.standardize_dtype(ref.dtype)
        if want.startswith(("int", "uint")) and leaf.dtype.kind == "f":
            raise ValueError(
                f"Argument `x` must hold integers for model input "
                f"'{ref.name}' of dtype {want}. Received: x={_describe(leaf)}"
            )
