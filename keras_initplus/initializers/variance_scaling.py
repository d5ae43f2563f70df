"""The general fan-scaled initializer that the He/Glorot presets build on."""

import math

import keras
from keras import ops

from keras_initplus.initializers import sampling
from keras_initplus.initializers.fans import compute_fans
from keras_initplus.initializers.seeded import SeededInitializer, register
from keras_initplus.initializers.validation import check_dtype, check_shape
from keras_initplus.validation import check_float

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it
# makes the truncated draw's variance exactly the target.
_TRUNCATED_STD = 0.87962566103423978


@register
class VarianceScaling(SeededInitializer):
    """Draws weights with variance `scale / n`, n chosen by `mode`.

    `n` is `fan_in`, `fan_out` or `(fan_in + fan_out) / 2`, with fans
    computed as Keras does: over `input_axes` and `output_axes` where the
    layer passes them (`EinsumDense`, `MultiHeadAttention`), else
    channels times receptive field for convolution kernels.
    `truncated_normal` cuts at two standard deviations and corrects the
    scale so that the variance is exact; `uniform` uses the limit
    `sqrt(3 * scale / n)`. float16 and bfloat16 kernels are drawn in
    float32 and then cast, so they take as many distinct values as their
    format holds rather than the few a low-precision generator gives.

    This is the same family as `keras.initializers.VarianceScaling`, but an
    unseeded instance draws fresh values on every call (see
    `SeededInitializer`).

    Args:
        scale: Positive float, the variance numerator.
        mode: One of `"fan_in"`, `"fan_out"`, `"fan_avg"`.
        distribution: One of `"truncated_normal"`, `"untruncated_normal"`,
            `"uniform"`.
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
        input_axes: None, or the kernel axes read from the input; given
            with `output_axes`. Layers that know them pass them.
        output_axes: None, or the kernel axes written to the output.

    Example:

    >>> init = VarianceScaling(2.0, "fan_in", "truncated_normal", seed=1)
    >>> layer = keras.layers.Dense(64, kernel_initializer=init)

    Reference:
        - [He et al., 2015](https://arxiv.org/abs/1502.01852)
        - [Glorot & Bengio, 2010](
          https://proceedings.mlr.press/v9/glorot10a.html)
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        scale = check_float(scale, "scale")
        if mode not in MODES:
            raise ValueError(
                f"Argument `mode` must be one of {MODES}. "
                f"Received: mode={mode!r}"
            )
        if distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"Argument `distribution` must be one of {DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        self.scale = float(scale)
        self.mode = mode
        self.distribution = distribution
        super().__init__(
            seed=seed, input_axes=input_axes, output_axes=output_axes
        )

    def variance(self, shape):
        """The target variance of each entry for a kernel of `shape`."""
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {
            "fan_in": fan_in,
            "fan_out": fan_out,
            "fan_avg": (fan_in + fan_out) / 2.0,
        }[self.mode]
        return self.scale / n

    def __call__(self, shape, dtype=None):
        shape = check_shape(shape)
        dtype = check_dtype(dtype)
        compute = "float64" if dtype == "float64" else "float32"
        w = self._draw(shape, math.sqrt(self.variance(shape)), compute)
        return w if compute == dtype else ops.cast(w, dtype)

    def _draw(self, shape, std, dtype):
        seed = self._call_seed()
        return sampling.draw(lambda s: self._sample(s, std, dtype, seed), shape)

    def _sample(self, shape, std, dtype, seed):
        if self.distribution == "uniform":
            limit = math.sqrt(3.0) * std
            return keras.random.uniform(
                shape, -limit, limit, dtype=dtype, seed=seed
            )
        if self.distribution == "truncated_normal":
            sigma = std / _TRUNCATED_STD
            w = keras.random.truncated_normal(
                shape, stddev=sigma, dtype=dtype, seed=seed
            )
            # Keras's PyTorch backend keeps the first of four candidates
            # inside the bounds, so about 4e-6 of its values fall outside
            # when all four do; clipping them keeps the stated bound and
            # leaves every other backend's draw unchanged.
            return ops.clip(w, -2.0 * sigma, 2.0 * sigma)
        return keras.random.normal(shape, stddev=std, dtype=dtype, seed=seed)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
        }
