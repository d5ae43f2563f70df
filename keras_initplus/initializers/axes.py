"""A kernel's input and output axes, and its input x output matrix view.

Keras's `EinsumDense` knows which kernel axes are contracted with the
input and which reach the output (for `MultiHeadAttention`'s query
kernel `(dim, heads, head_dim)` they are `[0]` and `[1, 2]`), and it
hands them to the initializer as `input_axes` and `output_axes`. With
them a kernel of any rank is one `fan_in x fan_out` matrix, which is the
view every initializer of the package works in.
"""

import math
import numbers

from keras import ops


def check_axes(input_axes, output_axes):
    """Returns both as tuples of ints or both as None, else raises."""
    if input_axes is None and output_axes is None:
        return None, None
    checked = []
    for name, axes in (
        ("input_axes", input_axes),
        ("output_axes", output_axes),
    ):
        try:
            values = tuple(axes)
        except TypeError:
            values = None
        if not values or any(
            isinstance(a, bool) or not isinstance(a, numbers.Integral)
            for a in values
        ):
            raise ValueError(
                f"Argument `{name}` must be a non-empty list of integer "
                "axes, given together with "
                f"`{'output_axes' if name == 'input_axes' else 'input_axes'}`"
                f" (or both None). Received: input_axes={input_axes!r}, "
                f"output_axes={output_axes!r}"
            )
        checked.append(tuple(int(a) for a in values))
    return checked[0], checked[1]


def _normalize(axes, rank, shape, input_axes, output_axes):
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                "Arguments `input_axes` and `output_axes` must be axes of "
                f"the kernel, from {-rank} to {rank - 1}. Received: "
                f"input_axes={list(input_axes)}, "
                f"output_axes={list(output_axes)} for shape={shape}"
            )
        out.append(a % rank)
    return out


def compute_axes_fans(shape, input_axes, output_axes):
    """`(fan_in, fan_out)` as products over the given axes (Keras's
    `compute_fans` with axes)."""
    rank = len(shape)
    ins = _normalize(input_axes, rank, shape, input_axes, output_axes)
    outs = _normalize(output_axes, rank, shape, input_axes, output_axes)
    return (
        math.prod(shape[a] for a in ins),
        math.prod(shape[a] for a in outs),
    )


def matrix_view(shape, input_axes=None, output_axes=None):
    """Returns `(rows, cols, perm)`: the kernel is a `rows x cols` matrix
    once its axes are put in the order `perm` (input axes, then output).

    Without axes it is `keras.initializers.Orthogonal`'s view: every axis
    but the last is input (a convolution's taps and input channels).

    Raises when the axes do not name every kernel axis exactly once: an
    axis in neither list has no place in an input x output matrix, and
    filling such a kernel anyway is how rows end up zero.
    """
    rank = len(shape)
    if input_axes is None:
        input_axes, output_axes = range(rank - 1), [rank - 1]
    ins = _normalize(input_axes, rank, shape, input_axes, output_axes)
    outs = _normalize(output_axes, rank, shape, input_axes, output_axes)
    perm = ins + outs
    if sorted(perm) != list(range(rank)):
        raise ValueError(
            "Arguments `input_axes` and `output_axes` must together name "
            "every axis of the kernel exactly once for an input x output "
            "matrix view. Received: "
            f"input_axes={list(input_axes)}, output_axes={list(output_axes)}"
            f" for shape={shape}"
        )
    rows = math.prod(shape[a] for a in ins)
    cols = math.prod(shape[a] for a in outs)
    return rows, cols, perm


def from_matrix(matrix, shape, perm):
    """The kernel of `shape` whose `matrix_view` is `matrix`."""
    permuted = ops.reshape(matrix, [shape[a] for a in perm])
    inverse = [perm.index(a) for a in range(len(shape))]
    if inverse == list(range(len(shape))):
        return permuted
    return ops.transpose(permuted, inverse)
