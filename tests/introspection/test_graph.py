"""The Functional graph a model runs, and its nodes in call order."""

import keras

from keras_initplus.introspection import graph_nodes, graph_of


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_graph_of_each_kind_of_model():
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert graph_of(functional) is functional
    assert graph_of(sequential) is not None
    assert graph_of(_Subclassed()) is None


def test_nodes_come_after_their_inputs():
    inputs = keras.Input((3,))
    a = keras.layers.Dense(3, name="a")(inputs)
    b = keras.layers.Dense(3, name="b")(a)
    out = keras.layers.Add(name="add")([a, b])
    names = [n.operation.name for n in graph_nodes(keras.Model(inputs, out))]
    assert names == ["a", "b", "add"]
