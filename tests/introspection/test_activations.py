"""Activation names, fused activations, and switching one off."""

import keras
import numpy as np
import pytest

from keras_initplus.introspection import (
    LINEAR,
    activation_name,
    fused_activation,
    linear_activation,
)


@pytest.mark.parametrize(
    "given,name",
    [
        (None, "linear"),
        ("ReLU", "relu"),
        (keras.activations.linear, "linear"),
        (keras.activations.tanh, "tanh"),
        (keras.activations.get("gelu"), "gelu"),
    ],
)
def test_every_activation_has_a_string_name(given, name):
    assert activation_name(given) == name


def test_only_a_non_identity_activation_is_fused():
    assert fused_activation(keras.layers.Dense(2, "tanh")) is (
        keras.activations.tanh
    )
    assert fused_activation(keras.layers.Dense(2)) is None
    assert fused_activation(keras.layers.Activation("relu")) is None
    assert fused_activation(keras.layers.Add()) is None
    assert activation_name(fused_activation(keras.layers.Dense(2))) == LINEAR


def test_the_switch_gives_the_pre_activation_and_restores():
    layer = keras.layers.Dense(3, activation="relu")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    layer(x)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    with linear_activation(layer):
        pre = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(pre, x @ kernel + bias, rtol=1e-5, atol=1e-6)
    assert (pre < 0).any()
    assert layer.activation is keras.activations.relu
    with pytest.raises(ValueError):
        with linear_activation(layer):
            raise ValueError("inside")
    assert layer.activation is keras.activations.relu
