"""The sublayers of a model: Sequential, Functional, subclassed, nested."""

import keras


def children(layer):
    """The layers `layer` holds directly, in the order Keras tracked them."""
    # Keras 3 has no public walk over the sublayers of subclassed models
    # and nested layers; `_flatten_layers` is listed in private_api.
    return layer._flatten_layers(include_self=False, recursive=False)


def sublayers(model, enter=None):
    """Every layer inside `model`, depth first, each once.

    A layer for which `enter(layer)` is false is listed but its own
    sublayers are not (None: every layer is entered).
    """
    seen = set()
    out = []

    def visit(layer):
        for sub in children(layer):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            out.append(sub)
            if enter is None or enter(sub):
                visit(sub)

    visit(model)
    return out


def leaf_layers(model):
    """The layers under `model` that hold no sublayers, without Inputs."""
    return [
        layer
        for layer in sublayers(model)
        if not children(layer)
        and not isinstance(layer, keras.layers.InputLayer)
    ]
