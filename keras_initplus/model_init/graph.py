"""Reads a Functional graph: kernel layers, activations, residual branches.

A residual branch is the part of the graph that feeds one input of an
`Add` and none of the others: for `x + f(x)` it is `f`, for a projection
shortcut `conv(x) + f(x)` the side with more kernel layers. Hand-built
transformer blocks (`x + attention(norm(x))`, `x + mlp(norm(x))`) are
residual branches in this sense too.
"""

import dataclasses

import keras

from keras_initplus.introspection import (
    LINEAR,
    activation_name,
    fused_activation,
    graph_nodes,
    graph_of,
    producers,
)
from keras_initplus.model_init.composite import transformer_block

# Layers a signal passes through unchanged in scale or shape, when
# looking for the activation that follows a kernel layer.
_TRANSPARENT = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.Reshape,
    keras.layers.Flatten,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
)
_STANDALONE = {
    keras.layers.ReLU: "relu",
    keras.layers.LeakyReLU: "leaky_relu",
    keras.layers.ELU: "elu",
    keras.layers.Softmax: "softmax",
}


_CONVOLUTIONS = tuple(
    getattr(keras.layers, name)
    for name in (
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Conv3DTranspose",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "SeparableConv1D",
        "SeparableConv2D",
    )
)


def kernel_layer(layer):
    """Whether the package knows how to initialize `layer`'s kernels."""
    return isinstance(
        layer,
        (
            keras.layers.Dense,
            keras.layers.EinsumDense,
            keras.layers.MultiHeadAttention,
            *_CONVOLUTIONS,
        ),
    )


@dataclasses.dataclass
class Residual:
    """One `Add` and the kernel layers of its branch."""

    add: object
    layers: list  # kernel layers of the branch, in graph order
    final: list  # those whose output reaches the Add with no kernel between


@dataclasses.dataclass
class GraphReading:
    layers: list  # kernel layers in graph order, each once
    activation: dict  # id(layer) -> name of the activation after it
    residuals: list
    submodels: list  # nested Functional/Sequential models
    blocks: list  # transformer layers with their branches inside


def _after(node, consumers):
    """The activation applied to `node`'s output, looking through layers
    that do not change the signal's scale."""
    layer = node.operation
    name = activation_name(fused_activation(layer))
    if name != LINEAR or isinstance(layer, keras.layers.MultiHeadAttention):
        return name
    seen = 0
    while seen < 4:
        nxt = consumers.get(id(node), [])
        if len(nxt) != 1:
            return LINEAR
        node = nxt[0]
        op = node.operation
        if isinstance(op, keras.layers.Activation):
            return activation_name(op.activation)
        for cls, act in _STANDALONE.items():
            if isinstance(op, cls):
                return act
        if not isinstance(op, _TRANSPARENT):
            return LINEAR
        seen += 1
    return LINEAR


def read_graph(model):
    """Returns a `GraphReading` of `model`'s own graph, or None if it has
    none (a subclassed model)."""
    graph = graph_of(model)
    if graph is None:
        return None
    nodes = graph_nodes(graph)
    producer = producers(nodes)
    consumers = {}
    ancestors = {}
    for node in nodes:
        anc = set()
        for t in node.input_tensors:
            p = producer.get(id(t))
            if p is not None:
                anc.add(id(p))
                anc |= ancestors[id(p)]
                consumers.setdefault(id(p), []).append(node)
        ancestors[id(node)] = anc
    by_id = {id(n): n for n in nodes}

    layers, activation, submodels, blocks = [], {}, [], []
    for node in nodes:
        op = node.operation
        if isinstance(op, keras.Model) and graph_of(op) is not None:
            if not any(op is s for s in submodels):
                submodels.append(op)
        elif transformer_block(op) is not None:
            if not any(op is b.layer for b in blocks):
                blocks.append(transformer_block(op))
        elif kernel_layer(op) and id(op) not in activation:
            layers.append(op)
            activation[id(op)] = _after(node, consumers)

    residuals = []
    for node in nodes:
        if not isinstance(node.operation, keras.layers.Add):
            continue
        sides = []
        for t in node.input_tensors:
            p = producer.get(id(t))
            sides.append(set() if p is None else {id(p)} | ancestors[id(p)])
        if len(sides) < 2:
            continue
        best = None
        for i, side in enumerate(sides):
            others = set().union(*(s for j, s in enumerate(sides) if j != i))
            own = [
                by_id[n]
                for n in side - others
                if kernel_layer(by_id[n].operation)
            ]
            if own and (best is None or len(own) > len(best)):
                best = own
        if best is None:
            continue
        order = {id(n): k for k, n in enumerate(nodes)}
        best.sort(key=lambda n: order[id(n)])
        final = [
            n.operation
            for n in best
            if not any(id(n) in ancestors[id(m)] for m in best if m is not n)
        ]
        residuals.append(
            Residual(node.operation, [n.operation for n in best], final)
        )
    return GraphReading(layers, activation, residuals, submodels, blocks)
