"""Fan computation, following `keras.initializers.VarianceScaling`."""

import math

from keras_initplus.initializers.axes import compute_axes_fans


def compute_fans(shape, input_axes=None, output_axes=None):
    """Returns `(fan_in, fan_out)` for a kernel shape.

    With `input_axes` and `output_axes` (what `EinsumDense` passes), each
    fan is the product of the sizes along those axes. Otherwise Dense
    kernels are `(fan_in, fan_out)`, and kernels of rank 3 or more are
    read as convolutions `(*spatial, in_channels, out_channels)` with both
    fans multiplied by the receptive field. Both rules are Keras's, so
    the package's He/Glorot variants agree with Keras's on every layer.
    Transposed convolutions store `(*spatial, filters, in_channels)`;
    Keras reads that shape with the same rule, and so does this.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return compute_axes_fans(shape, input_axes, output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field
