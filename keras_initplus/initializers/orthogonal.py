"""Orthogonal initialization with a gain taken from the activation."""

import math

import keras
from keras import ops

from keras_initplus.initializers.gain import resolve_gain
from keras_initplus.initializers.orthonormal import haar_orthonormal
from keras_initplus.initializers.seeded import SeededInitializer
from keras_initplus.initializers.validation import check_dtype, check_shape


@keras.saving.register_keras_serializable(package="keras_initplus")
class Orthogonal(SeededInitializer):
    """Haar-random orthogonal kernel times a gain.

    The kernel is viewed as a matrix of `rows = prod(shape[:-1])` by
    `cols = shape[-1]`. Its columns are orthonormal when rows >= cols and
    its rows otherwise, so that `W^T W = gain**2 I` (or `W W^T`). The
    matrix is uniform over the orthogonal group (Haar), like a
    sign-corrected QR of a Gaussian matrix.

    The factor comes from CholeskyQR2 on well-conditioned column blocks,
    that is from matrix products rather than Householder QR. It is faster
    than `keras.initializers.Orthogonal` on CPU, and the same path is what
    makes it fast on GPUs and TPUs, where QR kernels are slow. All float
    dtypes work, bfloat16 included (computed in float32, then cast).

    Args:
        gain: A positive float, or an activation name such as `"relu"` or
            `"tanh"`, resolved with `calculate_gain`.
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
            With None every call draws fresh values.

    Example:

    >>> layer = keras.layers.Dense(
    ...     512, activation="tanh",
    ...     kernel_initializer=Orthogonal(gain="tanh", seed=3))

    Reference:
        - [Saxe et al., 2014](https://arxiv.org/abs/1312.6120)
        - [Mezzadri, 2007](https://arxiv.org/abs/math-ph/0609050)
        - [Fukaya et al., 2014, CholeskyQR2](
          https://doi.org/10.1109/ScalA.2014.11)
    """

    def __init__(self, gain=1.0, seed=None):
        self._gain_value = resolve_gain(gain)
        self.gain = gain if isinstance(gain, str) else self._gain_value
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = check_shape(shape, min_rank=2, what="an orthogonal kernel")
        dtype = check_dtype(dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        q = haar_orthonormal(
            rows, cols, self._call_seed(), dtype, scale=self._gain_value
        )
        return ops.reshape(q, shape)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}
