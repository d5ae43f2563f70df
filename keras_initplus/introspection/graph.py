"""The Functional graph a model runs, and its nodes in call order."""

import keras
from keras.src.models.functional import Functional


def graph_of(model):
    """The Functional graph that runs `model`, or None if there is none.

    A subclass that overrides `call` is not run through its graph, since
    its `call` may do something else.
    """
    if isinstance(model, keras.Sequential):
        if type(model).call is not keras.Sequential.call:
            return None
        return getattr(model, "_functional", None)
    if isinstance(model, Functional):
        if type(model).call is not Functional.call:
            return None
        return model
    return None


def producers(nodes):
    """`{id(tensor): node}` for every output tensor of `nodes`."""
    return {id(t): node for node in nodes for t in node.outputs}


def graph_nodes(graph):
    """The nodes of a Functional `graph` that call an operation, inputs
    first: an order in which every node's inputs exist before it runs."""
    nodes = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                nodes.append(node)
    return nodes
