"""The activation a layer applies, by name, and switching it off."""

import contextlib

import keras

# The name of the identity, so that every activation has a string name:
# None is never an activation name in the package.
LINEAR = "linear"


def activation_name(fn):
    """The lower-case name of an activation: a string as given, else the
    function's (or callable's class's) name; `LINEAR` for None."""
    if fn is None:
        return LINEAR
    if isinstance(fn, str):
        return fn.lower()
    return getattr(fn, "__name__", type(fn).__name__).lower()


def fused_activation(layer):
    """The activation function a layer applies to its own output after
    its kernel (`Dense(..., activation="tanh")`), or None if it applies
    none or the identity. An `Activation` layer has none fused: its
    activation is the whole layer."""
    if isinstance(layer, keras.layers.Activation):
        return None
    fn = getattr(layer, "activation", None)
    return None if activation_name(fn) == LINEAR else fn


@contextlib.contextmanager
def linear_activation(layer):
    """Calls inside the block skip the layer's fused activation.

    Keras's Dense, EinsumDense and convolution layers read
    `self.activation` at call time, so the layer's own `call` then
    returns its pre-activation, with nothing re-implemented.
    """
    saved = layer.activation
    # As for a wrapped call: not state of the layer, kept out of Keras's
    # attribute tracker.
    object.__setattr__(layer, "activation", keras.activations.linear)
    try:
        yield
    finally:
        object.__setattr__(layer, "activation", saved)
