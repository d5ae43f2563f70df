"""Delta-orthogonal initialization for convolution kernels."""

import keras
from keras import ops

from keras_initplus.initializers.gain import resolve_gain
from keras_initplus.initializers.orthonormal import haar_orthonormal
from keras_initplus.initializers.seeded import SeededInitializer
from keras_initplus.initializers.validation import check_dtype, check_shape


def centre_tap_kernel(matrix, spatial):
    """A `(*spatial, in, out)` kernel, zero but for `matrix` at the centre
    tap (index `k // 2` along each spatial axis)."""
    n_in, n_out = matrix.shape
    centre = ops.reshape(matrix, (1,) * len(spatial) + (n_in, n_out))
    pads = [(k // 2, k - 1 - k // 2) for k in spatial] + [(0, 0)] * 2
    return ops.pad(centre, pads)


@keras.saving.register_keras_serializable(package="keras_initplus")
class DeltaOrthogonal(SeededInitializer):
    """Convolution kernel that is zero except for an orthogonal centre tap.

    For a kernel of shape `(*spatial, in_channels, out_channels)` every
    spatial tap is zero except the centre one (index `k // 2` along each
    spatial axis), which holds a Haar-random `(in_channels, out_channels)`
    matrix with orthonormal rows, times the gain. At initialization the
    convolution is then an orthogonal map of the channels at each position,
    which gives the dynamical isometry that lets very deep plain CNNs train.

    Orthonormal rows need `in_channels <= out_channels`.

    Args:
        gain: A positive float, or an activation name resolved with
            `calculate_gain`.
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.

    Example:

    >>> conv = keras.layers.Conv2D(
    ...     64, 3, padding="same", activation="tanh",
    ...     kernel_initializer=DeltaOrthogonal(gain="tanh", seed=0))

    Reference:
        - [Xiao et al., 2018](https://arxiv.org/abs/1806.05393)
    """

    def __init__(self, gain=1.0, seed=None):
        self._gain_value = resolve_gain(gain)
        self.gain = gain if isinstance(gain, str) else self._gain_value
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = check_shape(
            shape,
            min_rank=3,
            max_rank=5,
            what="a Conv1D/2D/3D kernel (spatial..., in, out)",
        )
        dtype = check_dtype(dtype)
        in_ch, out_ch = shape[-2], shape[-1]
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
        return centre_tap_kernel(centre, shape[:-2])

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}
