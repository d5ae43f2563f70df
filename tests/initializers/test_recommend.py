import math

import keras
import numpy as np
import pytest

import keras_initplus

SHAPE = (300, 500)


@pytest.mark.parametrize(
    "activation,variance",
    [
        ("relu", 2 / 300),
        (keras.activations.gelu, 2 / 300),
        ("tanh", 2 / 800),
        (None, 2 / 800),
        ("sigmoid", 2 / 800),
        ("selu", 1 / 300),
    ],
)
def test_variance_follows_the_family(activation, variance):
    init = keras_initplus.initializer_for(activation, seed=2)
    w = np.asarray(init(SHAPE), np.float64)
    se = variance * math.sqrt(2 / w.size)
    assert abs(w.var() - variance) < 5 * se


def test_families_and_distributions():
    assert keras_initplus.initializer_for("relu").get_config() == {
        "scale": 2.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
        "seed": None,
    }
    assert keras_initplus.initializer_for("tanh").distribution == "uniform"


@pytest.mark.parametrize(
    "activation,kind,gain",
    [
        ("relu", "LooksLinear", 1.0),
        (keras.activations.gelu, "LooksLinear", 1.0),
        ("silu", "LooksLinear", 1.0),
        ("leaky_relu", "LooksLinear", 1 / 1.2),
        ("tanh", "Orthogonal", 1.0),
        (None, "Orthogonal", 1.0),
    ],
)
def test_depth_changes_the_answer(activation, kind, gain):
    shallow = keras_initplus.initializer_for(activation, depth=10, seed=1)
    assert type(shallow).__name__ == "VarianceScaling"
    assert (
        shallow.get_config()
        == keras_initplus.initializer_for(activation, seed=1).get_config()
    )
    deep = keras_initplus.initializer_for(activation, depth=20, seed=1)
    assert type(deep).__name__ == kind
    assert deep.get_config()["gain"] == pytest.approx(gain)
    assert deep.seed == 1


def test_leaky_relu_gain_keeps_the_deep_signal():
    # Keras's leaky_relu (slope 0.2) with the looks-linear gain 1/1.2
    # keeps the norm through 200 layers; gain 1 would grow it 1.2**200.
    init = keras_initplus.initializer_for("leaky_relu", depth=200)
    model = keras.Sequential(
        [keras.Input((32,))]
        + [
            keras.layers.Dense(
                32, activation="leaky_relu", kernel_initializer=init
            )
            for _ in range(200)
        ]
    )
    x = np.random.default_rng(0).standard_normal((4, 32)).astype("float32")
    y = np.asarray(model(x))
    ratio = np.linalg.norm(y, axis=1) / np.linalg.norm(x, axis=1)
    assert np.all((ratio > 0.05) & (ratio < 2.0))


def test_tailored_activation_gets_unit_gain_orthogonal():
    act = keras_initplus.TailoredLeakyReLU(depth=40)
    init = keras_initplus.initializer_for(act, depth=40, seed=2)
    assert type(init).__name__ == "Orthogonal"
    assert init.get_config() == {"gain": 1.0, "seed": 2}


def test_no_deep_answer_warns_and_keeps_the_shallow_one():
    with pytest.warns(UserWarning, match="'selu', depth=50"):
        init = keras_initplus.initializer_for("selu", depth=50)
    assert init.get_config()["mode"] == "fan_in"
    assert init.get_config()["scale"] == 1.0


@pytest.mark.parametrize("depth", [0, -3, 2.5, True, "10"])
def test_bad_depth(depth):
    with pytest.raises(ValueError) as info:
        keras_initplus.initializer_for("relu", depth=depth)
    assert "`depth`" in str(info.value)
    assert f"depth={depth!r}" in str(info.value)
