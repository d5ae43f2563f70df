import inspect
import math

import keras
import numpy as np
import pytest
from scipy import integrate, special

import keras_initplus
from keras_initplus.initializers.gain import (
    KERAS_LEAKY_RELU_SLOPE,
    TORCH_LEAKY_RELU_SLOPE,
)

# Values of torch.nn.init.calculate_gain (PyTorch 2.x), copied as numbers:
# every name in its table (leaky_relu is tested below).
PYTORCH = {
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    "selu": 0.75,
}


@pytest.mark.parametrize("name", sorted(PYTORCH))
def test_matches_pytorch_where_pytorch_defines_it(name):
    assert keras_initplus.calculate_gain(name) == pytest.approx(PYTORCH[name])


def test_leaky_relu_slope():
    gain = keras_initplus.calculate_gain
    assert gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert gain("LeakY_ReLU", 0.0) == pytest.approx(math.sqrt(2))


def test_leaky_relu_slopes_match_each_library():
    # calculate_gain follows PyTorch; initializer_for reads Keras layers.
    torch_default = 0.01  # torch.nn.functional.leaky_relu's negative_slope
    assert TORCH_LEAKY_RELU_SLOPE == torch_default
    signature = inspect.signature(keras.activations.leaky_relu)
    keras_default = signature.parameters["negative_slope"].default
    assert KERAS_LEAKY_RELU_SLOPE == keras_default


def _second_moment_gain(phi):
    def integrand(z):
        return phi(z) ** 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    moment = integrate.quad(integrand, -np.inf, np.inf)[0]
    return 1 / math.sqrt(moment)


SECOND_MOMENT = {
    "elu": lambda z: z if z > 0 else math.expm1(z),
    "gelu": lambda z: 0.5 * z * (1 + special.erf(z / math.sqrt(2))),
    "silu": lambda z: z * special.expit(z),
    "swish": lambda z: z * special.expit(z),
    "relu": lambda z: max(z, 0.0),
}


@pytest.mark.parametrize("name", sorted(SECOND_MOMENT))
def test_second_moment_gains_by_quadrature(name):
    expected = _second_moment_gain(SECOND_MOMENT[name])
    assert keras_initplus.calculate_gain(name) == pytest.approx(expected)
