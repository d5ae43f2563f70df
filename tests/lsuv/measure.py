"""Independent pre-activation measurements for the LSUV tests.

These never use the LSUV report nor the interception machinery: a
layer's input is read from a Keras sub-model (or a hand-written forward
pass for subclassed models), and its pre-activation is recomputed from
its weights with numpy or a plain `keras.ops` primitive.
"""

import keras
import numpy as np
from keras import ops


def layer_input(model, layer, x):
    """The input `layer` receives when Functional `model` runs on `x`."""
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, layer.input)
    return np.asarray(probe(x, training=False))


def dense_preact(h, layer):
    out = np.asarray(h, np.float64) @ np.asarray(layer.kernel, np.float64)
    if layer.use_bias:
        out = out + np.asarray(layer.bias, np.float64)
    return out


def conv_preact(h, layer):
    rank = layer.rank
    out = ops.conv(
        ops.convert_to_tensor(h),
        layer.kernel,
        strides=layer.strides,
        padding=layer.padding,
        data_format=layer.data_format,
        dilation_rate=layer.dilation_rate,
    )
    out = np.asarray(out, np.float64)
    if layer.use_bias:
        out = out + np.asarray(layer.bias, np.float64).reshape(
            (1,) * (rank + 1) + (-1,)
        )
    return out


def preact(h, layer):
    if isinstance(layer, keras.layers.Dense):
        return dense_preact(h, layer)
    if type(layer) in (
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
    ):
        return conv_preact(h, layer)
    raise TypeError(f"no independent measure for {type(layer).__name__}")


def assert_on_target(variances, target=1.0, tol=0.1):
    bad = {k: v for k, v in variances.items() if not abs(v - target) < tol}
    assert not bad, f"off target {target} +/- {tol}: {bad}"
    assert variances, "no layer measured"


def functional_variances(model, x, layers):
    return {
        layer.name: float(np.var(preact(layer_input(model, layer, x), layer)))
        for layer in layers
    }
