"""Recommended gains for orthogonal and scaled initializers."""

import math
import numbers

from keras_initplus.initializers.validation import check_gain

# Second-moment gains 1 / sqrt(E[phi(z)^2]), z ~ N(0, 1), for activations
# that PyTorch's table leaves out. The same rule gives sqrt(2) for ReLU,
# so these sit on one scale with the classic values. Recomputed by
# quadrature in tests/initializers/test_gain.py.
_ELU_GAIN = 1.2451983007007061
_GELU_GAIN = 1.5335304411955328
_SILU_GAIN = 1.6765324703310904

# Leaky ReLU's negative slope when none is given, which differs by
# library. `calculate_gain` returns `torch.nn.init.calculate_gain`'s
# values, so it takes PyTorch's default.
TORCH_LEAKY_RELU_SLOPE = 0.01
# Keras's `activation="leaky_relu"` uses this slope, so an answer for an
# activation named "leaky_relu" (`initializer_for`) assumes it. Keras's
# `LeakyReLU` layer defaults to 0.3 instead.
KERAS_LEAKY_RELU_SLOPE = 0.2

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,
    "elu": _ELU_GAIN,
    "gelu": _GELU_GAIN,
    "silu": _SILU_GAIN,
    "swish": _SILU_GAIN,
}

ACTIVATIONS = tuple(sorted([*_GAINS, "leaky_relu"]))


def calculate_gain(activation, param=None):
    """Returns the recommended gain for an activation.

    | activation                   | gain                      | source   |
    |------------------------------|---------------------------|----------|
    | linear, identity, conv1d/2d/3d | 1                       | PyTorch  |
    | conv_transpose1d/2d/3d       | 1                         | PyTorch  |
    | sigmoid                      | 1                         | PyTorch  |
    | tanh                         | 5/3                       | PyTorch  |
    | relu                         | sqrt(2)                   | PyTorch  |
    | leaky_relu                   | sqrt(2 / (1 + slope**2))  | PyTorch  |
    | selu                         | 3/4                       | PyTorch  |
    | elu                          | 1.2452                    | 2nd moment |
    | gelu                         | 1.5335                    | 2nd moment |
    | silu, swish                  | 1.6765                    | 2nd moment |

    Where `torch.nn.init.calculate_gain` defines a value, the same value is
    returned. `leaky_relu`'s slope defaults to PyTorch's 0.01; note that
    Keras's `leaky_relu` activation defaults to 0.2 (its `LeakyReLU`
    layer to 0.3): pass `param=` the slope the layer uses.
    The "2nd moment" rows, absent from PyTorch, use
    `1 / sqrt(E[phi(z)**2])` for `z ~ N(0, 1)`, which is the rule that
    gives sqrt(2) for ReLU: it keeps the second moment of the
    pre-activations at 1 from layer to layer.

    Args:
        activation: Name of the activation, case-insensitive.
        param: The negative slope, for `leaky_relu` only.

    Returns:
        A positive float.

    Reference:
        - [Saxe et al., 2014](https://arxiv.org/abs/1312.6120)
        - [He et al., 2015](https://arxiv.org/abs/1502.01852)
        - [Klambauer et al., 2017](https://arxiv.org/abs/1706.02515)
    """
    if not isinstance(activation, str):
        raise TypeError(
            "Argument `activation` must be a string, one of "
            f"{ACTIVATIONS}. Received: activation={activation!r}"
        )
    name = activation.lower()
    if name == "leaky_relu":
        slope = TORCH_LEAKY_RELU_SLOPE if param is None else param
        if (
            isinstance(slope, bool)
            or not isinstance(slope, numbers.Real)
            or not math.isfinite(slope)
        ):
            raise ValueError(
                "Argument `param` must be a finite number (the negative "
                f"slope of leaky_relu). Received: param={param!r}"
            )
        return math.sqrt(2.0 / (1.0 + slope**2))
    if name not in _GAINS:
        raise ValueError(
            f"Argument `activation` must be one of {ACTIVATIONS}. "
            f"Received: activation={activation!r}"
        )
    if param is not None:
        raise ValueError(
            "Argument `param` is only used with activation='leaky_relu'. "
            f"Received: param={param!r} with activation={activation!r}"
        )
    return _GAINS[name]


def resolve_gain(gain):
    """Returns a positive float from a number or an activation name."""
    if isinstance(gain, str):
        return calculate_gain(gain)
    return check_gain(gain)
