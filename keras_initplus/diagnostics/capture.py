"""Record each leaf layer's pre-activation and activation in one forward."""

import keras

from keras_initplus.introspection import (
    LINEAR,
    activation_name,
    fused_activation,
    leaf_layers,
    linear_activation,
    wrapped_calls,
)

# Saturation bounds: where the derivative has fallen below ~2% of its peak.
SATURATING = {"tanh": 0.99, "sigmoid": 0.99, "hard_sigmoid": 0.99}
RELU_LIKE = ("relu", "relu6")


def _standalone_activation(layer):
    """The name of the activation a whole layer is, or None."""
    if isinstance(layer, keras.layers.Activation):
        name = activation_name(layer.activation)
        return None if name == LINEAR else name
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    return None


def _recorder(layer, sink):
    fused = fused_activation(layer)
    standalone = _standalone_activation(layer)

    def make(call):
        def recorded(*args, **kwargs):
            if fused is not None:
                with linear_activation(layer):
                    pre = call(*args, **kwargs)
                post = fused(pre)
                sink.append((layer, pre, post, activation_name(fused)))
                return post
            post = call(*args, **kwargs)
            pre = args[0] if standalone and args else None
            sink.append((layer, pre, post, standalone or LINEAR))
            return post

        return recorded

    return make


def recording(model, sink):
    """Within the block, each forward appends `(layer, pre, post, act)`.

    Layers with a fused activation (Dense(..., activation="tanh")) run
    with it switched off to expose the pre-activation, which is then
    activated by hand. Standalone activation layers report their input
    as the pre-activation. Everything else passes through with
    `pre is None` and `act` `"linear"`, so the caller still sees the call
    order.
    """
    return wrapped_calls(
        (layer, _recorder(layer, sink)) for layer in leaf_layers(model)
    )
