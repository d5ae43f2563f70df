"""Match the initializer to the activation."""

from keras_initplus.initializers.variance_scaling import VarianceScaling

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

FAMILIES = {
    **{name: ("he", 2.0, "fan_in", "truncated_normal") for name in _HE},
    **{name: ("glorot", 1.0, "fan_avg", "uniform") for name in _GLOROT},
    **{name: ("lecun", 1.0, "fan_in", "truncated_normal") for name in _LECUN},
}


def _activation_name(activation):
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation.lower()
    name = getattr(activation, "__name__", None)
    if name is None:
        raise TypeError(
            "Argument `activation` must be None, a string or a Keras "
            f"activation function. Received: activation={activation!r}"
        )
    return name.lower()


def initializer_for(activation, seed=None):
    """Returns the recommended kernel initializer for an activation.

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

    Depth changes the answer for tanh: in the package's convergence
    benchmark (README, "The full grid"), 50-layer tanh MLPs trained only
    under `Orthogonal(gain=1.0)`; this recommendation, like every other
    variance-preserving one, did not. Prefer that past ~30 layers.

    Args:
        activation: None, an activation name, or a Keras activation
            function such as `keras.activations.relu`.
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.

    Example:

    >>> layer = keras.layers.Dense(
    ...     128, activation="gelu", kernel_initializer=initializer_for("gelu"))

    Reference:
        - [Glorot & Bengio, 2010](
          https://proceedings.mlr.press/v9/glorot10a.html)
        - [He et al., 2015](https://arxiv.org/abs/1502.01852)
        - [Klambauer et al., 2017](https://arxiv.org/abs/1706.02515)
    """
    name = _activation_name(activation)
    if name not in FAMILIES:
        raise ValueError(
            f"Argument `activation` must be one of {tuple(sorted(FAMILIES))}"
            f". Received: activation={activation!r}"
        )
    _, scale, mode, distribution = FAMILIES[name]
    return VarianceScaling(scale, mode, distribution, seed=seed)
