"""The walk over a model's sublayers, nested and subclassed ones too."""

import keras

from keras_initplus.introspection import children, leaf_layers, sublayers


class _Block(keras.layers.Layer):
    def __init__(self, shared, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(4, name=f"{self.name}_inner")
        self.shared = shared

    def call(self, x):
        return self.shared(self.inner(x))


def _model():
    shared = keras.layers.Dense(4, name="shared")
    inputs = keras.Input((4,))
    nested = keras.Sequential(
        [keras.Input((4,)), _Block(shared, name="b1")], name="nested"
    )
    h = nested(inputs)
    h = _Block(shared, name="b2")(h)
    return keras.Model(inputs, h), shared


def test_every_layer_once_depth_first():
    model, _ = _model()
    names = [layer.name for layer in sublayers(model)]
    assert sorted(names) == sorted(set(names))
    assert {"nested", "b1", "b1_inner", "shared", "b2", "b2_inner"} <= set(
        names
    )
    # Depth first: a container's sublayers come right after it.
    assert names.index("b1_inner") == names.index("b1") + 1


def test_a_layer_not_entered_is_listed_alone():
    model, _ = _model()
    names = [
        layer.name
        for layer in sublayers(model, enter=lambda la: la.name != "nested")
    ]
    assert "nested" in names
    assert "b1" not in names and "b1_inner" not in names


def test_leaves_hold_no_sublayers_and_no_input():
    model, shared = _model()
    leaves = leaf_layers(model)
    assert {layer.name for layer in leaves} == {
        "b1_inner",
        "b2_inner",
        "shared",
    }
    assert sum(layer is shared for layer in leaves) == 1
    assert all(not children(layer) for layer in leaves)
