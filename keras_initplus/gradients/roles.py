"""Which layers the vanishing rule compares with each other, and how.

A gradient-to-weight ratio `||g_l|| / ||w_l||` says how fast a layer's
weights move. The ratios of weight matrices (Dense, EinsumDense,
convolutions, recurrent kernels) are on one scale, so a matrix whose
ratio is far below the others' is a layer that barely trains. Other
weights are not on that scale, and comparing them gives false alarms on
healthy models:

- normalization scales and shifts, embeddings, class tokens and
  depthwise kernels: their ratio is set by their size and fan, not by
  how well the signal reaches them;
- gates: attention `query` and `key` (at initialization the attention
  is nearly uniform, so their gradient is second order) and the
  convolutions of a squeeze-excite branch, whose output only rescales
  other features.

Those are judged only for a gradient that is exactly zero: a dead unit
or a branch cut off from the loss.

In a network with normalization layers the first weight matrix (the
stem) is judged, but does not set the reference: it reads the raw input
before any normalization, and its ratio can be orders of magnitude
above the body's (ResNet50V2's `conv1_conv`: 27 against 0.06 for
`conv5_*`), which would make every healthy block look vanishing.
Without normalization the stem stays in the reference: there it is on
the body's scale, and in a saturated network it may be the one layer
whose gradient is still healthy.
"""

import keras
import numpy as np

from keras_initplus.introspection import graph as graph_lib
from keras_initplus.introspection import walk

MATRIX = "matrix"  # compared with the reference, and part of it
STEM = "stem"  # compared with the reference, not part of it
ZERO_ONLY = "zero_only"  # judged only for an exactly zero gradient

# Variables whose layer is a weight matrix; "depthwise_kernel" is not.
_MATRIX_NAMES = ("kernel", "pointwise_kernel", "recurrent_kernel")
# MultiHeadAttention always names its score projections so.
_SCORE_NAMES = ("query", "key")
_GLOBAL_POOLS = (
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
)
_NORM_NAMES = ("gamma", "beta")
_NORMALIZATION = tuple(
    getattr(keras.layers, name)
    for name in (
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "RMSNormalization",
        "UnitNormalization",
    )
    if hasattr(keras.layers, name)
)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
# How far back from a Multiply a squeeze-excite branch may reach.
_GATE_DEPTH = 8


def _short(variable):
    path = getattr(variable, "path", None) or getattr(variable, "name", "")
    return path.split(":")[0].rsplit("/", 1)[-1]


def layer_roles(variables, names, segment_ids, zero_only=(), normalized=None):
    """One role per layer (`MATRIX`, `STEM` or `ZERO_ONLY`).

    Args:
        variables: the variables, in model order.
        names, segment_ids: the layer names and each variable's layer
            index, as `norms.group_by_layer(variables)` returns them.
        zero_only: ids (`id(v)`) of variables known from the model to be
            `ZERO_ONLY` (see `zero_only_variables`).
        normalized: whether the network has normalization layers (see
            `has_normalization`); None: whether any variable is named
            `gamma` or `beta`, as Keras's normalization layers name
            their scale and shift.
    """
    zero_only = set(zero_only)
    matrix = np.zeros((len(names),), bool)
    gated = np.zeros((len(names),), bool)
    for v, j in zip(variables, segment_ids):
        if id(v) in zero_only:
            gated[j] = True
        elif _short(v) in _MATRIX_NAMES and len(v.shape) >= 2:
            matrix[j] = True
    for j, name in enumerate(names):
        if name.rsplit("/", 1)[-1] in _SCORE_NAMES:
            gated[j] = True
    roles = np.where(matrix & ~gated, MATRIX, ZERO_ONLY).astype(object)
    normalized = is_normalized(variables, normalized)
    first = np.flatnonzero(roles == MATRIX)
    if normalized and first.size:
        roles[first[0]] = STEM
    return tuple(roles)


def is_normalized(variables, normalized=None):
    """`normalized` as read from the model (`has_normalization`), or,
    when None, whether any variable is named `gamma` or `beta`, as
    Keras's normalization layers name their scale and shift."""
    if normalized is not None:
        return bool(normalized)
    return any(_short(v) in _NORM_NAMES for v in variables)


def has_normalization(model):
    """Whether any layer inside `model` is a Keras normalization layer
    (or a subclass, as keras-hub's are)."""
    return any(isinstance(x, _NORMALIZATION) for x in walk.sublayers(model))


def zero_only_variables(model):
    """Ids of the variables of `model` that only the model tells apart
    from weight matrices: depthwise kernels (named `kernel` in Keras 3),
    the `query` and `key` projections of every `MultiHeadAttention`, and
    the weight layers between a global pooling and a `Multiply` (a
    squeeze-excite branch) in every Functional graph inside it."""
    ids = set()
    for layer in [model, *walk.sublayers(model)]:
        if isinstance(layer, _DEPTHWISE):
            ids.update(id(v) for v in layer.trainable_weights)
        if isinstance(layer, keras.layers.MultiHeadAttention):
            for name in ("query_dense", "key_dense"):
                dense = getattr(layer, name, None)
                if dense is not None:
                    ids.update(id(v) for v in dense.trainable_weights)
        if not isinstance(layer, keras.Model):
            continue
        graph = graph_lib.graph_of(layer)
        if graph is not None:
            for gate in _squeeze_excite(graph):
                ids.update(id(v) for v in gate.trainable_weights)
    return ids


def _squeeze_excite(graph):
    """The weight layers on a path from a global pooling to a Multiply,
    through layers with one input each."""
    nodes = graph_lib.graph_nodes(graph)
    producer = graph_lib.producers(nodes)
    found = []
    for node in nodes:
        if not isinstance(node.operation, keras.layers.Multiply):
            continue
        for t in node.input_tensors:
            chain = []
            p = producer.get(id(t))
            for _ in range(_GATE_DEPTH):
                if p is None or len(p.input_tensors) != 1:
                    break
                if isinstance(p.operation, _GLOBAL_POOLS):
                    found.extend(chain)
                    break
                if getattr(p.operation, "trainable_weights", ()):
                    chain.append(p.operation)
                p = producer.get(id(p.input_tensors[0]))
    return found
