"""One name per layer: its Keras path.

A layer's short name repeats in real models (every keras-hub transformer
block has a `query`), so reports key their rows by the layer's Keras 3
path, e.g. `transformer_layer_0/self_attention_layer/query`. That is the
string `GradientHealthCallback` names a layer by (a variable's path
without its last part), so the three reports can be read side by side.
"""

from keras_initplus.introspection.walk import children


def layer_path(layer):
    """`layer.path`, or the short name for a layer never built."""
    return getattr(layer, "path", None) or layer.name


def layer_paths(model):
    """`{id(layer): path}` for every layer under `model`, nested included.

    Keras sets `layer.path` when a layer is built; a layer without a
    `build` of its own (Activation, Dropout, ReLU) keeps None. Such a
    layer is given its siblings' prefix (or else its parent's path) and
    its name, which is where Keras would have put it.
    """
    paths = {}

    def walk(parent, parent_path):
        subs = children(parent)
        known = [c.path for c in subs if getattr(c, "path", None)]
        if known:
            prefix = known[0].rsplit("/", 1)[0] if "/" in known[0] else ""
        else:
            prefix = parent_path
        for child in subs:
            if id(child) in paths:
                continue
            path = getattr(child, "path", None) or (
                f"{prefix}/{child.name}" if prefix else child.name
            )
            paths[id(child)] = path
            walk(child, path)

    walk(model, "")
    return paths
