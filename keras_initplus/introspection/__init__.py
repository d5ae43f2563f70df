"""What the package reads from a model's layers, and the two things it
briefly changes in them.

`diagnose`, `lsuv_init` and `initialize_model` all walk a model's
sublayers or its Functional graph, name the activation a layer applies,
switch a fused activation off to see the pre-activation, and wrap a
layer's `call` to see what it is called with. Each is done here, once.
The private Keras attributes this needs are listed in
`keras_initplus.private_api`.
"""

from keras_initplus.introspection.activations import (
    LINEAR,
    activation_name,
    fused_activation,
    linear_activation,
)
from keras_initplus.introspection.calls import wrapped_calls
from keras_initplus.introspection.graph import (
    graph_nodes,
    graph_of,
    producers,
)
from keras_initplus.introspection.paths import layer_path, layer_paths
from keras_initplus.introspection.walk import children, leaf_layers, sublayers

__all__ = [
    "LINEAR",
    "activation_name",
    "children",
    "fused_activation",
    "graph_nodes",
    "graph_of",
    "layer_path",
    "layer_paths",
    "leaf_layers",
    "linear_activation",
    "producers",
    "sublayers",
    "wrapped_calls",
]
