"""The kernels of a layer, each with the axes of its matrix view."""

import keras


def einsum_axes(equation):
    """`(input_axes, output_axes)` of an EinsumDense kernel, as Keras
    derives them: a kernel axis that reaches the output is an output
    axis, one that is only contracted with the input an input axis."""
    inputs, rest = equation.split(",")
    kernel, output = rest.split("->")
    ins = [i for i, c in enumerate(kernel) if c in inputs and c not in output]
    outs = [i for i, c in enumerate(kernel) if c in output]
    return ins, outs


def kernels_of(layer):
    """`(label, variable, input_axes, output_axes)` for each kernel."""
    if isinstance(layer, keras.layers.MultiHeadAttention):
        found = []
        for label in ("query", "key", "value", "output"):
            sub = getattr(layer, f"{label}_dense")
            found += [(label, *k[1:]) for k in kernels_of(sub)]
        return found
    if isinstance(layer, keras.layers.EinsumDense):
        return [("kernel", layer.kernel, *einsum_axes(layer.equation))]
    if hasattr(layer, "pointwise_kernel"):
        return [
            ("depthwise", layer.depthwise_kernel, None, None),
            ("pointwise", layer.pointwise_kernel, None, None),
        ]
    return [("kernel", layer.kernel, None, None)]
