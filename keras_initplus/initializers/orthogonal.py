"""Orthogonal initialization with a gain taken from the activation."""

from keras_initplus.initializers.axes import from_matrix, matrix_view
from keras_initplus.initializers.gain import resolve_gain
from keras_initplus.initializers.orthonormal import haar_orthonormal
from keras_initplus.initializers.seeded import SeededInitializer, register
from keras_initplus.initializers.validation import check_dtype, check_shape


@register
class Orthogonal(SeededInitializer):
    """Haar-random orthogonal kernel times a gain.

    The kernel is viewed as its input x output matrix: over the
    `input_axes` and `output_axes` a layer passes (`EinsumDense`,
    `MultiHeadAttention`), else `rows = prod(shape[:-1])` by
    `cols = shape[-1]` as in Keras (a convolution's taps and input
    channels by its output channels). Its columns are orthonormal when
    rows >= cols and its rows otherwise, so that `W^T W = gain**2 I`
    (or `W W^T`). The matrix is uniform over the orthogonal group
    (Haar), like a sign-corrected QR of a Gaussian matrix.

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
        input_axes: None, or the kernel axes read from the input, with
            `output_axes`; together they must name every axis once.
        output_axes: None, or the kernel axes written to the output.

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

    def __init__(self, gain=1.0, seed=None, input_axes=None, output_axes=None):
        self._gain_value = resolve_gain(gain)
        self.gain = gain if isinstance(gain, str) else self._gain_value
        super().__init__(
            seed=seed, input_axes=input_axes, output_axes=output_axes
        )

    def __call__(self, shape, dtype=None):
        shape = check_shape(shape, min_rank=2, what="an orthogonal kernel")
        dtype = check_dtype(dtype)
        rows, cols, perm = matrix_view(shape, self.input_axes, self.output_axes)
        q = haar_orthonormal(
            rows, cols, self._call_seed(), dtype, scale=self._gain_value
        )
        return from_matrix(q, shape, perm)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}
