"""Record each leaf layer's pre-activation and activation in one forward."""

import contextlib

import keras

# Saturation bounds: where the derivative has fallen below ~2% of its peak.
SATURATING = {"tanh": 0.99, "sigmoid": 0.99, "hard_sigmoid": 0.99}
RELU_LIKE = ("relu", "relu6")


def activation_name(fn):
    """Returns the lower-case name of an activation function, or None."""
    if fn is None:
        return None
    name = getattr(fn, "__name__", type(fn).__name__).lower()
    return None if name == "linear" else name


def leaf_layers(model):
    """The model's layers that have no sublayers, nested models included."""
    # _flatten_layers is private, but Keras 3 has no public walk over
    # the sublayers of subclassed models and nested layers.
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if not layer._flatten_layers(include_self=False)
        and not isinstance(layer, keras.layers.InputLayer)
    ]


def _fused_activation(layer):
    fn = getattr(layer, "activation", None)
    if isinstance(layer, keras.layers.Activation):
        return None
    return fn if activation_name(fn) else None


def _standalone_activation(layer):
    if isinstance(layer, keras.layers.Activation):
        return activation_name(layer.activation)
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    return None


@contextlib.contextmanager
def recording(model, sink):
    """Within the block, each forward appends `(layer, pre, post, act)`.

    Layers with a fused activation (Dense(..., activation="tanh")) run
    with it replaced by the identity to expose the pre-activation, which
    is then activated by hand. Standalone activation layers report their
    input as the pre-activation. Everything else passes through with
    `pre is None`, so the caller still sees the call order.
    """
    originals = {}

    def wrap(layer):
        call = layer.call
        fused = _fused_activation(layer)
        standalone = _standalone_activation(layer)

        def recorded(*args, **kwargs):
            if fused is not None:
                layer.activation = keras.activations.linear
                try:
                    pre = call(*args, **kwargs)
                finally:
                    layer.activation = fused
                post = fused(pre)
                sink.append((layer, pre, post, activation_name(fused)))
                return post
            post = call(*args, **kwargs)
            pre = args[0] if standalone and args else None
            sink.append((layer, pre, post, standalone))
            return post

        return recorded

    try:
        for layer in leaf_layers(model):
            originals[layer] = layer.__dict__.get("call")
            object.__setattr__(layer, "call", wrap(layer))
        yield sink
    finally:
        for layer, original in originals.items():
            if original is None:
                object.__delattr__(layer, "call")
            else:
                object.__setattr__(layer, "call", original)
