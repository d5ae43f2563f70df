"""A forward pass through a Functional graph that frees activations early.

Keras's own graph runner keeps every intermediate tensor until the end of
the call. LSUV only needs each tensor until its last consumer has run, so
this runner counts the consumers of every tensor and drops it as soon as
the count reaches zero: peak memory is the graph's widest cut, not its
depth. Nested Functional and Sequential models are walked the same way
instead of being called as a whole. Everything else is called as Keras
would call it, with `training=False`.
"""

import collections

import keras
from keras import tree

from keras_initplus.introspection import graph_nodes, graph_of


def _call_op(op, args, kwargs):
    if "training" in getattr(op, "_call_context_args", ()):
        kwargs = dict(kwargs)
        if kwargs.get("training") is None:
            kwargs["training"] = False
    return op(*args, **kwargs)


def run_graph(model, inputs):
    """Runs Functional `model` on `inputs`, freeing tensors early."""
    flat_inputs = model._standardize_inputs(inputs)
    nodes = graph_nodes(model)

    consumers = collections.Counter()
    for node in nodes:
        for x in node.input_tensors:
            consumers[id(x)] += 1
    for x in model.outputs:
        # Outputs must survive to the end of the walk.
        consumers[id(x)] += 1

    values = {}
    for x, y in zip(model.inputs, flat_inputs):
        values[id(x)] = y

    for node in nodes:
        if any(id(x) not in values for x in node.input_tensors):
            continue  # Not reachable from these inputs, as in Keras.
        args, kwargs = node.arguments.fill_in(values)
        op = node.operation
        inner = graph_of(op) if isinstance(op, keras.Model) else None
        if inner is not None and len(args) == 1 and not kwargs:
            outputs = run_graph(inner, args[0])
        else:
            outputs = _call_op(op, args, kwargs)
        for x, y in zip(node.outputs, tree.flatten(outputs)):
            values[id(x)] = y
        del args, kwargs, outputs
        for x in node.input_tensors:
            consumers[id(x)] -= 1
            if consumers[id(x)] == 0:
                values.pop(id(x), None)

    outputs = [values[id(x)] for x in model.outputs]
    return tree.pack_sequence_as(model._outputs_struct, outputs)
