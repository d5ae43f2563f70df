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
