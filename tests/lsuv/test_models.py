"""Model shapes beyond the basic ones: custom blocks inside a graph, and
multiple named inputs."""

import keras
import numpy as np

from keras_initplus import LSUV, lsuv_init
from tests.lsuv.measure import (
    assert_on_target,
    dense_preact,
    functional_variances,
    layer_input,
)

L = keras.layers


class _Block(L.Layer):
    """A custom layer holding Dense layers, used inside a Functional graph:
    its inner layers are reachable only through its `call`."""

    def __init__(self, width, seed, **kwargs):
        super().__init__(**kwargs)
        self.a = L.Dense(
            width, activation="relu", kernel_initializer=LSUV(seed=seed)
        )
        self.b = L.Dense(width, kernel_initializer=LSUV(seed=seed + 1))

    def call(self, x):
        return x + self.b(self.a(x))


def test_custom_block_inside_functional():
    inputs = keras.Input((16,))
    h = L.Dense(16, kernel_initializer=LSUV(seed=0), name="stem")(inputs)
    blocks = [_Block(16, seed=10 * i + 1, name=f"blk{i}") for i in range(3)]
    for block in blocks:
        h = block(h)
    model = keras.Model(inputs, h)
    x = np.random.default_rng(0).normal(size=(128, 16)).astype("float32")
    report = lsuv_init(model, x, verbose=0)
    assert len(report) == 7 and report.all_converged
    v = functional_variances(model, x, [model.get_layer("stem")])
    for block in blocks:
        h = layer_input(model, block, x)
        pa = dense_preact(h, block.a)
        pb = dense_preact(np.maximum(pa, 0), block.b)
        v[block.a.name], v[block.b.name] = float(np.var(pa)), float(np.var(pb))
    assert_on_target(v)


def test_two_named_inputs_as_dict():
    left = keras.Input((6,), name="left")
    right = keras.Input((4,), name="right")
    a = L.Dense(
        8, activation="tanh", kernel_initializer=LSUV(seed=1), name="a"
    )(left)
    b = L.Dense(
        8, activation="tanh", kernel_initializer=LSUV(seed=2), name="b"
    )(right)
    out = L.Dense(3, kernel_initializer=LSUV(seed=3), name="out")(
        L.Concatenate()([a, b])
    )
    model = keras.Model({"left": left, "right": right}, out)
    rng = np.random.default_rng(1)
    x = {
        "left": rng.normal(size=(64, 6)).astype("float32"),
        "right": 3 * rng.normal(size=(64, 4)).astype("float32"),
    }
    report = lsuv_init(model, x, verbose=0)
    assert report.all_converged and len(report) == 3
    v = {
        "a": float(np.var(dense_preact(x["left"], model.get_layer("a")))),
        "b": float(np.var(dense_preact(x["right"], model.get_layer("b")))),
    }
    cat = keras.Model(model.inputs, model.get_layer("out").input)(x)
    v["out"] = float(
        np.var(dense_preact(np.asarray(cat), model.get_layer("out")))
    )
    assert_on_target(v)
