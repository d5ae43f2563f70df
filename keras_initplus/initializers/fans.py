"""Fan computation, following `keras.initializers.VarianceScaling`."""

import math


def compute_fans(shape):
    """Returns `(fan_in, fan_out)` for a kernel shape.

    Dense kernels are `(fan_in, fan_out)`. Convolution kernels are
    `(*spatial, in_channels, out_channels)` and both fans are multiplied by
    the receptive field, exactly as Keras does, so that our He/Glorot
    variants agree with Keras's on every layer type.
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field
