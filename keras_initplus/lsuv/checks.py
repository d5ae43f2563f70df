"""Argument checks for `lsuv_init`, run before any weight is touched.

Every message names the argument, echoes the value and says what is
allowed. The batch `x` is checked by `keras_initplus.validation`, as
for every function that takes one.
"""

import keras

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
