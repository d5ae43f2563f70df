"""One name per layer: its Keras path, and lookups by path or short name.

A layer's short name repeats in real models (every keras-hub transformer
block has a `query`), so reports key their rows by the layer's Keras 3
path, e.g. `transformer_layer_0/self_attention_layer/query`. That is the
string `GradientHealthCallback` names a layer by (a variable's path
without its last part), so the three reports can be read side by side.
"""


def layer_path(layer):
    """`layer.path`, or the short name for a layer never built."""
    return getattr(layer, "path", None) or layer.name


def _children(layer):
    return layer._flatten_layers(include_self=False, recursive=False)


def layer_paths(model):
    """`{id(layer): path}` for every layer under `model`, nested included.

    Keras sets `layer.path` when a layer is built; a layer without a
    `build` of its own (Activation, Dropout, ReLU) keeps None. Such a
    layer is given its siblings' prefix (or else its parent's path) and
    its name, which is where Keras would have put it.
    """
    paths = {}

    def walk(parent, parent_path):
        children = _children(parent)
        known = [c.path for c in children if getattr(c, "path", None)]
        if known:
            prefix = known[0].rsplit("/", 1)[0] if "/" in known[0] else ""
        else:
            prefix = parent_path
        for child in children:
            if id(child) in paths:
                continue
            path = getattr(child, "path", None) or (
                f"{prefix}/{child.name}" if prefix else child.name
            )
            paths[id(child)] = path
            walk(child, path)

    walk(model, "")
    return paths


def unique_paths(paths):
    """The paths with a `#2`, `#3`... appended to later repeats (a layer
    called more than once has one row per call)."""
    seen = {}
    out = []
    for path in paths:
        seen[path] = seen.get(path, 0) + 1
        out.append(path if seen[path] == 1 else f"{path}#{seen[path]}")
    return out


def find_row(rows, key, path_of, name_of, what):
    """The row whose path is `key`, else the only row named `key`.

    Raises KeyError naming the matching paths when the short name is
    shared by several layers, or listing the paths when nothing matches.
    """
    for row in rows:
        if path_of(row) == key:
            return row
    hits = [row for row in rows if name_of(row) == key]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise KeyError(
            f"{key!r} is the name of {len(hits)} layers in the {what}; "
            f"look one up by its path: {[path_of(r) for r in hits]}"
        )
    raise KeyError(
        f"No layer with path or name {key!r} in the {what}. Paths: "
        f"{[path_of(r) for r in rows]}"
    )
