"""Which variable LSUV scales in each layer type, and how it measures.

Each rule names the variable whose scale sets the layer's output scale
and computes the layer's pre-activation output from the inputs the layer
was called with. Fused activations are switched off by
`introspection.linear_activation` around the layer's own `call`, which
runs exactly the layer's own kernel op, bias, padding, strides and
dilation, with nothing re-implemented here that could drift from Keras.

| layer                              | scaled variable   | measured        |
|------------------------------------|-------------------|-----------------|
| Dense, EinsumDense                 | kernel            | call, linear    |
| Conv1D/2D/3D, Conv1D/2D/3DTranspose| kernel            | call, linear    |
| DepthwiseConv1D/2D                 | kernel (depthwise)| call, linear    |
| SeparableConv1D/2D                 | pointwise_kernel  | call, linear    |
| Embedding                          | embeddings        | call            |
| LSTM, GRU, SimpleRNN               | cell.kernel       | x_t @ W_input   |

SeparableConv scales the pointwise kernel: the output is linear in each
of the two kernels, so either would do, and the pointwise kernel is the
one that mixes channels, like an ordinary convolution's kernel.

Recurrent layers scale only the input kernel W_x, so that the input's
contribution to every gate pre-activation, `x_t @ W_x` over all time
steps, gates and units, has the target variance; the recurrent kernel
stays orthogonal (an isometry of the hidden state), and the bias is left
out of the measurement because LSTM's forget-gate bias of 1 would
otherwise dominate it. The layer's output cannot be the measure: it is
squashed by tanh into (-1, 1), so its variance can never reach 1.
"""

import keras
from keras import ops

from keras_initplus.introspection import linear_activation
from keras_initplus.lsuv.initializer import LSUV

_FUSED = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_RECURRENT = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)

SUPPORTED = (
    "Dense, EinsumDense, Conv1D/2D/3D, Conv1D/2D/3DTranspose, "
    "DepthwiseConv1D/2D, SeparableConv1D/2D, Embedding, LSTM, GRU, "
    "SimpleRNN"
)

_INITIALIZER_ATTRS = (
    "kernel_initializer",
    "depthwise_initializer",
    "pointwise_initializer",
    "embeddings_initializer",
)


class Rule:
    """How LSUV treats one layer: the variable and the measurement."""

    def __init__(self, layer, variable_name, measure):
        self.layer = layer
        self.variable_name = variable_name
        self._measure = measure

    @property
    def variable(self):
        obj = self.layer
        for part in self.variable_name.split("."):
            # Dense, EinsumDense and Embedding expose the raw variable
            # under a private name (`_kernel`, `_embeddings`, listed in
            # private_api) and a derived tensor (LoRA, quantization)
            # under the public one.
            raw = getattr(obj, "_" + part, None)
            obj = raw if raw is not None else getattr(obj, part)
        return obj

    def pre_activation(self, call, args, kwargs):
        """The layer's output before its activation, for these inputs."""
        return self._measure(self.layer, call, args, kwargs)


def _call_linear(layer, call, args, kwargs):
    with linear_activation(layer):
        return call(*args, **kwargs)


def _call_plain(layer, call, args, kwargs):
    return call(*args, **kwargs)


def _input_projection(layer, call, args, kwargs):
    sequences = args[0] if args else kwargs["sequences"]
    kernel = layer.cell.kernel
    sequences = ops.cast(sequences, kernel.dtype)
    return ops.matmul(sequences, kernel)


def rule_for(layer):
    """The rule for `layer`, or None when LSUV does not support it."""
    if getattr(layer, "lora_enabled", False) or getattr(
        layer, "quantization_mode", None
    ):
        # The effective kernel is then derived from several variables
        # (or integers), so no single variable sets its scale.
        return None
    if isinstance(layer, _FUSED):
        return Rule(layer, "kernel", _call_linear)
    if isinstance(layer, _DEPTHWISE):
        return Rule(layer, "kernel", _call_linear)
    if isinstance(layer, _SEPARABLE):
        return Rule(layer, "pointwise_kernel", _call_linear)
    if isinstance(layer, keras.layers.Embedding):
        return Rule(layer, "embeddings", _call_plain)
    if isinstance(layer, _RECURRENT):
        return Rule(layer, "cell.kernel", _input_projection)
    return None


def is_marked(layer):
    """Whether one of the layer's kernel initializers is `LSUV`."""
    owners = [layer]
    cell = getattr(layer, "cell", None)
    if cell is not None:
        owners.append(cell)
    return any(
        isinstance(getattr(owner, attr, None), LSUV)
        for owner in owners
        for attr in _INITIALIZER_ATTRS
    )


def has_kernel(layer):
    """Whether the layer owns a variable called like a kernel (the raw
    `_kernel` too, whose public `kernel` is a tensor under LoRA)."""
    for name in ("kernel", "_kernel", "depthwise_kernel", "embeddings"):
        try:
            value = getattr(layer, name, None)
        except (AttributeError, ValueError):
            continue
        if isinstance(value, keras.Variable):
            return True
    return False
