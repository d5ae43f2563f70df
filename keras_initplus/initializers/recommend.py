"""Match the initializer to the activation, and to the depth."""

import math
import warnings

from keras_initplus.activations.tailored import TailoredLeakyReLU
from keras_initplus.initializers.gain import KERAS_LEAKY_RELU_SLOPE
from keras_initplus.initializers.looks_linear import (
    POSITIONS,
    LooksLinear,
)
from keras_initplus.initializers.orthogonal import Orthogonal
from keras_initplus.initializers.variance_scaling import VarianceScaling
from keras_initplus.introspection import activation_name
from keras_initplus.validation import check_int

_HE = (
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "softplus",
    "celu",
    "glu",
)
_GLOROT = (
    "linear",
    "identity",
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "softsign",
    "softmax",
    "hard_tanh",
    "log_sigmoid",
)
_LECUN = ("selu",)

# From this depth on, variance-preserving draws stop training plain MLPs
# in the package's benchmark (README, "The full grid": He and Glorot
# reach 90% at depth 10, not at 30).
DEEP_FROM = 20
# Activations of the form z * g(z) with g(z) + g(-z) = 1, for which
# mirrored kernels make the network linear at initialization. The value
# is the looks-linear gain, 1 / (1 + negative slope), for Keras's slopes.
_LOOKS_LINEAR = {
    "relu": 1.0,
    "gelu": 1.0,
    "silu": 1.0,
    "swish": 1.0,
    "leaky_relu": 1.0 / (1.0 + KERAS_LEAKY_RELU_SLOPE),
}
# Odd units with slope 1 at 0: a unit-gain orthogonal kernel keeps them
# in their linear region (dynamical isometry).
_ISOMETRIC = ("linear", "identity", "tanh", "softsign", "hard_tanh")
# Saturating odd units whose deep gain grows slightly with depth; see
# `saturating_gain`.
_DEPTH_GAIN = ("tanh",)

FAMILIES = {
    **{name: ("he", 2.0, "fan_in", "truncated_normal") for name in _HE},
    **{name: ("glorot", 1.0, "fan_avg", "uniform") for name in _GLOROT},
    **{name: ("lecun", 1.0, "fan_in", "truncated_normal") for name in _LECUN},
}


def _checked_name(activation):
    if not (
        activation is None
        or isinstance(activation, str)
        or hasattr(activation, "__name__")
    ):
        raise TypeError(
            "Argument `activation` must be None, a string or a Keras "
            f"activation function. Received: activation={activation!r}"
        )
    return activation_name(activation)


def saturating_gain(depth):
    """The orthogonal gain for a plain tanh network of `depth` layers.

    With gain 1 and zero biases, the second moment `q` of a tanh
    layer's pre-activations shrinks as about `1 / (2 l)` over `l` layers
    (0.0017 after 300), so the deepest layers barely move the signal
    that reaches the loss. With `gain**2 = 1 + eps` it settles instead at
    a fixed point `q* ~ eps / 2`, where the per-layer gradient gain
    `chi = gain**2 E[tanh'(z)**2]` is just above 1 (Schoenholz et al.,
    2017; Pennington et al., 2017). `eps = 1 / sqrt(depth)` gives a
    whole-network backward gain `chi**depth` between 1.29 (depth 50) and
    1.37 (depth 1,000), while the last layers' second moment is
    `sqrt(depth)` times that of gain 1 (0.030 against 0.0017 at 300).
    """
    return math.sqrt(1.0 + 1.0 / math.sqrt(depth))


def initializer_for(activation, depth=None, seed=None, position="hidden"):
    """Returns the recommended kernel initializer for an activation.

    Without `depth`, or below `DEEP_FROM` (20) layers:

    - He normal, Var = 2 / fan_in: relu, relu6, leaky_relu, elu, gelu,
      silu/swish, mish, softplus, celu, glu.
    - Glorot uniform, Var = 2 / (fan_in + fan_out): None/linear, tanh,
      sigmoid, hard_sigmoid, softsign, softmax, hard_tanh, log_sigmoid.
    - LeCun normal, Var = 1 / fan_in: selu.

    ReLU-like units zero out about half of their input, so they need twice
    the variance (He). Saturating units work best near their linear
    region with forward and backward variance balanced (Glorot). SELU's
    self-normalizing fixed point assumes Var = 1 / fan_in (LeCun).

    The result is a `keras_initplus.VarianceScaling`, so an unseeded
    instance shared by several layers still gives each a fresh kernel.

    With `depth` >= 20 (the number of layers with this activation), the
    answer is what the package's deep-network benchmark supports
    (`benchmarks/convergence.py --deep`, docs/convergence_deep.md):

    - relu, gelu, silu/swish, leaky_relu: `LooksLinear` (gain 1, or
      1 / 1.2 for Keras's leaky_relu slope 0.2). Rows
      `mlp-{100,300}-{relu,leaky_relu,gelu}-{square,funnel}` and
      `cnn-24-relu`.
    - tanh: `Orthogonal(gain=saturating_gain(depth))`, that is
      `sqrt(1 + 1 / sqrt(depth))` (1.069 at depth 50, 1.028 at 300).
      Rows `mlp-{50,100,300}-tanh-{square,funnel}`; with gain 1 the
      300-layer square row does not reach 90% in 8 epochs.
    - linear, softsign, hard_tanh: `Orthogonal(gain=1.0)`, the
      dynamical-isometry kernel; not benchmarked for softsign and
      hard_tanh.
    - A `TailoredLeakyReLU` instance: `Orthogonal(gain=1.0)`, the kernel
      its transformation assumes (rows `mlp-*-tat-*`).
    - Anything else keeps the answer above, with a warning: no deep
      initializer has been shown to train it.

    Variance-preserving draws (He, Glorot, LSUV) do not train these
    plain networks at depth 50 and beyond (README, "The full grid").
    Deep networks need the two halves of the package together: pair the
    deep answer with `GradientHealthCallback(clip_norm=1.0)`. In the
    benchmark, runs that reached 90% without clipping could collapse
    back to chance a few epochs later; with clipping they did not.

    Args:
        activation: None, an activation name, a Keras activation function
            such as `keras.activations.relu`, or a `TailoredLeakyReLU`.
        depth: None, or the number of layers, an int >= 1.
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
        position: Where the layer sits: `"hidden"` (default), `"first"`
            (the layer that reads the network's input) or `"last"`.
            Only looks-linear kernels depend on it (see `LooksLinear`);
            the deep benchmark passes `"first"` for its first layer,
            which reads the whole input instead of the difference of its
            two halves.

    Example:

    >>> layer = keras.layers.Dense(
    ...     128, activation="gelu", kernel_initializer=initializer_for("gelu"))

    Reference:
        - [Glorot & Bengio, 2010](
          https://proceedings.mlr.press/v9/glorot10a.html)
        - [He et al., 2015](https://arxiv.org/abs/1502.01852)
        - [Klambauer et al., 2017](https://arxiv.org/abs/1706.02515)
        - [Balduzzi et al., 2017](https://arxiv.org/abs/1702.08591)
        - [Schoenholz et al., 2017](https://arxiv.org/abs/1611.01232)
        - [Pennington et al., 2017](https://arxiv.org/abs/1711.04735)
    """
    if depth is not None:
        depth = check_int(depth, "depth", 1)
    if position not in POSITIONS:
        raise ValueError(
            f"Argument `position` must be one of {POSITIONS}. "
            f"Received: position={position!r}"
        )
    if isinstance(activation, TailoredLeakyReLU):
        return Orthogonal(gain=1.0, seed=seed)
    name = _checked_name(activation)
    if name not in FAMILIES:
        raise ValueError(
            f"Argument `activation` must be one of {tuple(sorted(FAMILIES))}"
            f". Received: activation={activation!r}"
        )
    if depth is not None and depth >= DEEP_FROM:
        if name in _LOOKS_LINEAR:
            gain = _LOOKS_LINEAR[name]
            return LooksLinear(gain=gain, position=position, seed=seed)
        if name in _DEPTH_GAIN:
            return Orthogonal(gain=saturating_gain(depth), seed=seed)
        if name in _ISOMETRIC:
            return Orthogonal(gain=1.0, seed=seed)
        warnings.warn(
            f"initializer_for({name!r}, depth={depth}): no initializer "
            "has been shown to train plain networks this deep with this "
            "activation; returning the shallow recommendation. "
            f"Activations with a deep answer: "
            f"{tuple(_LOOKS_LINEAR) + _ISOMETRIC}.",
            stacklevel=2,
        )
    _, scale, mode, distribution = FAMILIES[name]
    return VarianceScaling(scale, mode, distribution, seed=seed)
