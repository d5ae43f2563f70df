"""Delta-orthogonal initialization for convolution kernels."""

from keras import ops

from keras_initplus.initializers.axes import from_matrix, matrix_view
from keras_initplus.initializers.gain import resolve_gain
from keras_initplus.initializers.orthonormal import haar_orthonormal
from keras_initplus.initializers.seeded import SeededInitializer, register
from keras_initplus.initializers.validation import check_dtype, check_shape


def centre_tap_kernel(matrix, spatial):
    """A `(*spatial, in, out)` kernel, zero but for `matrix` at the centre
    tap (index `k // 2` along each spatial axis)."""
    n_in, n_out = matrix.shape
    centre = ops.reshape(matrix, (1,) * len(spatial) + (n_in, n_out))
    pads = [(k // 2, k - 1 - k // 2) for k in spatial] + [(0, 0)] * 2
    return ops.pad(centre, pads)


@register
class DeltaOrthogonal(SeededInitializer):
    """Convolution kernel that is zero except for an orthogonal centre tap.

    For a kernel of shape `(*spatial, in_channels, out_channels)` every
    spatial tap is zero except the centre one (index `k // 2` along each
    spatial axis), which holds a Haar-random `(in_channels, out_channels)`
    matrix with orthonormal rows, times the gain. At initialization the
    convolution is then an orthogonal map of the channels at each position,
    which gives the dynamical isometry that lets very deep plain CNNs train.

    Orthonormal rows need `in_channels <= out_channels`.

    A kernel that comes with `input_axes` and `output_axes` (an
    `EinsumDense` kernel) has no taps: the whole kernel is the centre,
    and it gets orthonormal rows in its input x output view, with the same
    `in <= out` rule on the fans.

    Args:
        gain: A positive float, or an activation name resolved with
            `calculate_gain`.
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
        input_axes: None, or the kernel axes read from the input, with
            `output_axes`; together they must name every axis once.
        output_axes: None, or the kernel axes written to the output.

    Example:

    >>> conv = keras.layers.Conv2D(
    ...     64, 3, padding="same", activation="tanh",
    ...     kernel_initializer=DeltaOrthogonal(gain="tanh", seed=0))

    Reference:
        - [Xiao et al., 2018](https://arxiv.org/abs/1806.05393)
    """

    def __init__(self, gain=1.0, seed=None, input_axes=None, output_axes=None):
        self._gain_value = resolve_gain(gain)
        self.gain = gain if isinstance(gain, str) else self._gain_value
        super().__init__(
            seed=seed, input_axes=input_axes, output_axes=output_axes
        )

    def __call__(self, shape, dtype=None):
        if self.has_axes:
            shape = check_shape(shape, what="a delta-orthogonal kernel")
            in_ch, out_ch, perm = matrix_view(
                shape, self.input_axes, self.output_axes
            )
        else:
            shape = check_shape(
                shape,
                min_rank=3,
                max_rank=5,
                what="a Conv1D/2D/3D kernel (spatial..., in, out)",
            )
            in_ch, out_ch = shape[-2], shape[-1]
        dtype = check_dtype(dtype)
        if in_ch > out_ch:
            raise ValueError(
                "Argument `shape` must have in_channels <= out_channels for "
                "a delta-orthogonal kernel, since the centre tap needs "
                f"orthonormal rows. Received: shape={shape} with "
                f"in_channels={in_ch} > out_channels={out_ch}"
            )
        centre = haar_orthonormal(
            in_ch, out_ch, self._call_seed(), dtype, scale=self._gain_value
        )
        if self.has_axes:
            return from_matrix(centre, shape, perm)
        return centre_tap_kernel(centre, shape[:-2])

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}
