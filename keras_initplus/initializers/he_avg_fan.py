"""He initialization with the average fan: Var(w) = 4 / (fan_in + fan_out)."""

from keras_initplus.initializers.seeded import SeededInitializer, register
from keras_initplus.initializers.variance_scaling import VarianceScaling


class _HeAvgFan(VarianceScaling):
    """Shared preset: `VarianceScaling(2.0, "fan_avg", distribution)`."""

    _distribution = None

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(
            scale=2.0,
            mode="fan_avg",
            distribution=self._distribution,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self):
        # Only the preset's own arguments: scale, mode and distribution
        # are fixed by the class and must not be passed back to __init__.
        return SeededInitializer.get_config(self)


@register
class HeAvgFanNormal(_HeAvgFan):
    """He initializer with the average fan, truncated normal.

    Draws from a normal distribution truncated at two standard deviations,
    rescaled so that the variance is exactly

        Var(w) = 4 / (fan_in + fan_out) = 2 / ((fan_in + fan_out) / 2).

    It keeps He's factor 2 for ReLU-like activations, which halve the
    second moment, and averages the fans as Glorot does, so that neither
    the forward nor the backward signal is favoured when a layer changes
    width. For square layers it equals `keras.initializers.HeNormal`.

    Args:
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
            With None every call draws fresh values.
        input_axes: None, or the kernel axes read from the input, with
            `output_axes`; `EinsumDense` and `MultiHeadAttention` pass
            both, so fans there are Keras's.
        output_axes: None, or the kernel axes written to the output.

    Example:

    >>> layer = keras.layers.Dense(
    ...     256, activation="relu",
    ...     kernel_initializer=HeAvgFanNormal(seed=1))
    >>> attention = keras.layers.MultiHeadAttention(
    ...     8, 16, kernel_initializer=HeAvgFanNormal())
    >>> conv = keras.layers.Conv2D(
    ...     32, 3, activation="relu", kernel_initializer="he_avg_fan_normal")

    Reference:
        - [He et al., 2015](https://arxiv.org/abs/1502.01852)
        - [Glorot & Bengio, 2010](
          https://proceedings.mlr.press/v9/glorot10a.html)
    """

    _distribution = "truncated_normal"


@register
class HeAvgFanUniform(_HeAvgFan):
    """He initializer with the average fan, uniform.

    Draws from U(-limit, limit) with

        limit = sqrt(12 / (fan_in + fan_out)),

    so that Var(w) = limit**2 / 3 = 4 / (fan_in + fan_out).

    Args:
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
            With None every call draws fresh values.

    Example:

    >>> layer = keras.layers.Dense(
    ...     256, activation="relu", kernel_initializer=HeAvgFanUniform())

    Reference:
        - [He et al., 2015](https://arxiv.org/abs/1502.01852)
    """

    _distribution = "uniform"
