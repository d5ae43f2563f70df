"""After lsuv_init, each targeted layer's pre-activation variance is on
target, measured independently of the report."""

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, lsuv_init
from tests.lsuv.measure import (
    assert_on_target,
    conv_preact,
    dense_preact,
    functional_variances,
    layer_input,
)

L = keras.layers


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _mlp(depth, activation, width=64, in_dim=32):
    layers = [keras.Input((in_dim,))] + [
        L.Dense(width, activation=activation, kernel_initializer=LSUV(seed=i))
        for i in range(depth)
    ]
    return keras.Sequential(layers)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_deep_mlp(activation):
    model = _mlp(24, activation)
    x = _x((256, 32))
    before = functional_variances(model, x, model.layers)
    report = lsuv_init(model, x, verbose=0)
    after = functional_variances(model, x, model.layers)
    assert_on_target(after)
    # Without LSUV the deep net is far from unit variance somewhere.
    assert max(abs(v - 1) for v in before.values()) > 0.3
    assert [r.name for r in report] == [layer.name for layer in model.layers]
    for row in report:
        assert row.converged and row.status == "scaled"
        assert row.var_after == pytest.approx(after[row.name], rel=1e-3)


def test_deep_relu_functional_with_bias_and_other_target():
    inputs = keras.Input((16,))
    h = inputs
    for i in range(12):
        h = L.Dense(
            40,
            activation="relu",
            kernel_initializer=LSUV(seed=i),
            bias_initializer=keras.initializers.Constant(0.05),
        )(h)
    model = keras.Model(inputs, h)
    x = _x((200, 16), seed=1)
    lsuv_init(model, x, target=2.0, tol=0.05, verbose=0)
    assert_on_target(
        functional_variances(model, x, model.layers[1:]), 2.0, 0.05
    )


def test_cnn():
    inputs = keras.Input((16, 16, 3))
    h = L.Conv2D(
        8, 3, padding="same", activation="relu", kernel_initializer=LSUV(seed=1)
    )(inputs)
    h = L.Conv2D(
        16, 3, strides=2, activation="relu", kernel_initializer=LSUV(seed=2)
    )(h)
    h = L.MaxPooling2D()(h)
    h = L.Conv2D(
        16,
        3,
        padding="same",
        dilation_rate=2,
        activation="tanh",
        kernel_initializer=LSUV(seed=3),
    )(h)
    h = L.Flatten()(h)
    out = L.Dense(10, kernel_initializer=LSUV(seed=4))(h)
    model = keras.Model(inputs, out)
    x = _x((32, 16, 16, 3), seed=2)
    lsuv_init(model, x, verbose=0)
    convs = [layer for layer in model.layers if isinstance(layer, L.Conv2D)]
    measured = {
        layer.name: float(
            np.var(conv_preact(layer_input(model, layer, x), layer))
        )
        for layer in convs
    }
    dense = model.layers[-1]
    measured[dense.name] = float(
        np.var(dense_preact(layer_input(model, dense, x), dense))
    )
    assert_on_target(measured)
    assert len(measured) == 4


def _residual_block(h, width, seed, name):
    a = L.Dense(
        width,
        activation="relu",
        kernel_initializer=LSUV(seed=seed),
        name=f"{name}_a",
    )(h)
    b = L.Dense(
        width, kernel_initializer=LSUV(seed=seed + 100), name=f"{name}_b"
    )(a)
    side = L.Dense(
        width,
        activation="tanh",
        kernel_initializer=LSUV(seed=seed + 200),
        name=f"{name}_side",
    )(h)
    return L.Activation("relu")(L.Add()([h, b, side]))


def test_residual_functional_with_branches():
    inputs = keras.Input((32,))
    h = L.Dense(32, kernel_initializer=LSUV(seed=0), name="stem")(inputs)
    for i in range(4):
        h = _residual_block(h, 32, seed=10 * i + 1, name=f"block{i}")
    model = keras.Model(inputs, h)
    x = _x((128, 32), seed=3)
    lsuv_init(model, x, verbose=0)
    dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
    assert len(dense) == 13
    assert_on_target(functional_variances(model, x, dense))


def test_nested_functional_and_sequential():
    inner_in = keras.Input((24,))
    a = L.Dense(
        24, activation="tanh", kernel_initializer=LSUV(seed=1), name="inner_a"
    )(inner_in)
    b = L.Dense(
        24, activation="relu", kernel_initializer=LSUV(seed=2), name="inner_b"
    )(a)
    inner = keras.Model(inner_in, L.Add()([a, b]), name="inner")
    seq = keras.Sequential(
        [
            keras.Input((24,)),
            L.Dense(
                16,
                activation="relu",
                kernel_initializer=LSUV(seed=3),
                name="seq_a",
            ),
        ],
        name="seq",
    )
    inputs = keras.Input((12,))
    h = L.Dense(
        24, activation="relu", kernel_initializer=LSUV(seed=4), name="outer_a"
    )(inputs)
    h_inner = inner(h)
    h = seq(h_inner)
    out = L.Dense(4, kernel_initializer=LSUV(seed=5), name="outer_b")(h)
    model = keras.Model(inputs, out)
    x = _x((128, 12), seed=4)
    report = lsuv_init(model, x, verbose=0)
    assert [r.name for r in report] == [
        "outer_a",
        "inner_a",
        "inner_b",
        "seq_a",
        "outer_b",
    ]
    v = functional_variances(
        model, x, [model.get_layer("outer_a"), model.get_layer("outer_b")]
    )
    outer_a = model.get_layer("outer_a").output
    inner_x = np.asarray(keras.Model(inputs, outer_a)(x))
    v.update(functional_variances(inner, inner_x, inner.layers[1:3]))
    seq_x = np.asarray(keras.Model(inputs, h_inner)(x))
    v.update(functional_variances(seq, seq_x, seq.layers))
    assert_on_target(v)
    assert len(v) == 5


class _Residual(keras.Model):
    def __init__(self, width=32, blocks=4):
        super().__init__()
        self.stem = L.Dense(width, kernel_initializer=LSUV(seed=0))
        self.a = [
            L.Dense(width, activation="relu", kernel_initializer=LSUV(seed=i))
            for i in range(1, blocks + 1)
        ]
        self.b = [
            L.Dense(width, kernel_initializer=LSUV(seed=50 + i))
            for i in range(blocks)
        ]
        self.head = L.Dense(3, kernel_initializer=LSUV(seed=99))

    def call(self, x):
        h = self.stem(x)
        for a, b in zip(self.a, self.b):
            h = keras.ops.relu(h + b(a(h)))
        return self.head(h)


def test_subclassed_residual():
    model = _Residual()
    x = _x((128, 20), seed=5)
    model(x)
    report = lsuv_init(model, x, verbose=0)
    assert len(report) == 10 and report.all_converged

    # Hand-written forward pass, independent of the model's call.
    def relu(v):
        return np.maximum(v, 0)

    v = {}
    pre = dense_preact(x, model.stem)
    v["stem"] = np.var(pre)
    h = pre
    for a, b in zip(model.a, model.b):
        pa = dense_preact(h, a)
        pb = dense_preact(relu(pa), b)
        v[a.name], v[b.name] = np.var(pa), np.var(pb)
        h = relu(h + pb)
    v["head"] = np.var(dense_preact(h, model.head))
    assert_on_target({k: float(val) for k, val in v.items()})


def test_unbuilt_subclassed_model_is_built_from_x():
    model = _Residual(blocks=2)
    lsuv_init(model, _x((64, 20)), verbose=0)
    assert model.built


def test_deterministic_for_same_seed_and_x():
    x = _x((64, 32), seed=6)
    weights = []
    for _ in range(2):
        model = _mlp(6, "tanh")
        lsuv_init(model, x, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
