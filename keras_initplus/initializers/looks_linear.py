"""Looks-linear (mirrored) orthogonal kernels for deep ReLU-family nets."""

import math

from keras import ops

from keras_initplus.initializers.axes import from_matrix, matrix_view
from keras_initplus.initializers.delta_orthogonal import centre_tap_kernel
from keras_initplus.initializers.gain import resolve_gain
from keras_initplus.initializers.orthonormal import haar_orthonormal
from keras_initplus.initializers.seeded import SeededInitializer, register
from keras_initplus.initializers.validation import check_dtype, check_shape

POSITIONS = ("hidden", "first", "last")


def mirrored_matrix(n_in, n_out, position, seed, dtype, scale=1.0):
    """The `n_in x n_out` looks-linear matrix for one layer.

    With `p = n_in // 2` and `q = n_out // 2` and Haar-orthonormal blocks:

    - "hidden": `[[B, -B], [-B, B]]`, B of shape `(p, q)`. A mirrored
      input `[a, b]` maps to `[(a - b) B, -(a - b) B]`, mirrored again.
    - "first": `[A, -A]`, A of shape `(n_in, q)`: any input in, a
      mirrored output.
    - "last": `[[C], [-C]]`, C of shape `(p, n_out)`: a mirrored input
      in, `(a - b) C` out, any width.

    Odd sizes: an odd `n_out` adds one unpaired last column, drawn with
    the block so that `[B | c]` stays orthonormal; in "hidden" it is
    `[c; -c]`, so the unit still reads `a - b`. An odd `n_in` gives a zero
    last row, because the unit it reads (the previous layer's unpaired
    one) is not mirrored. Both keep the network exactly linear at
    initialization, and neither is dead: the zero row gets a gradient.
    """
    p, q = n_in // 2, n_out // 2
    odd_in, odd_out = n_in % 2, n_out % 2
    if position == "first":
        block = haar_orthonormal(n_in, q + odd_out, seed, dtype, scale)
        a, extra = block[:, :q], block[:, q:]
        return ops.concatenate([a, -a, extra], axis=1)
    if position == "last":
        c = haar_orthonormal(p, n_out, seed, dtype, scale)
        rows = [c, -c]
    else:
        block = haar_orthonormal(p, q + odd_out, seed, dtype, scale)
        b, extra = block[:, :q], block[:, q:]
        top = ops.concatenate([b, -b, extra], axis=1)
        rows = [top, -top]
    if odd_in:
        rows.append(ops.zeros((1, n_out), dtype=dtype))
    return ops.concatenate(rows, axis=0)


@register
class LooksLinear(SeededInitializer):
    """Mirrored orthogonal kernels: a deep ReLU network starts out linear.

    For units of the form `phi(z) = z * g(z)` with `g(z) + g(-z) = 1`
    (ReLU, GELU, SiLU/swish), `phi(z) - phi(-z) = z`. A layer whose kernel
    is `W = [[B, -B], [-B, B]]`, with `B` Haar-orthogonal, feeds the next
    layer only `phi(z) - phi(-z)`, so a plain stack of such layers with
    zero biases computes exactly `x -> (x_1 - x_2) B_1 B_2 ... B_L` at
    initialization: a product of orthogonal maps, whatever its depth.
    Gradients neither vanish nor explode, and training breaks the
    symmetry from the first step. Leaky ReLU with slope `s` gives
    `(1 + s) z` instead of `z`: pass `gain=1 / (1 + s)`.

    Measured against the same network with the activations removed, the
    network equals it times `c**k`, with `k` the number of activations
    between looks-linear layers and `c = 1/2` (`(1 + s) / 2` for leaky
    ReLU); the tests check this to float tolerance.

    Every layer may use the default `position="hidden"`: calling one
    instance once per layer is enough. Then the first layer reads only
    the difference of the two halves of its input, which training
    quickly repairs; `position="first"` (`[A, -A]`) reads all of it and
    `position="last"` (`[[C], [-C]]`) gives an unmirrored output of any
    width, which trains a little faster.

    Kernels of rank 2 are Dense (and rank-2 EinsumDense) kernels
    `(in, out)`. Kernels of rank 3 to 5 are convolution kernels
    `(*spatial, in, out)`: every tap is zero but the centre one (index
    `k // 2` on each spatial axis), which holds the mirrored matrix, as in
    delta-orthogonal initialization. A "first" convolution, whose input
    is not mirrored, reads the whole patch instead: `[A, -A]` with `A` of
    shape `(prod(spatial) * in, out // 2)`. An `EinsumDense` kernel
    (`MultiHeadAttention`'s included) comes with its `input_axes` and
    `output_axes`, and the mirrored matrix fills its input x output view
    whatever its rank.
    Odd sizes follow the rule in `mirrored_matrix`: never a wrong shape,
    and the network stays exactly linear at initialization. A "hidden"
    kernel with one input unit (a grayscale image's first convolution)
    can only be the network's first layer and gets the "first" form; one
    with one output unit gets the "last" form.

    Args:
        gain: A positive float, or an activation name resolved with
            `calculate_gain`. Default 1, the right value for ReLU, GELU
            and SiLU.
        position: `"hidden"` (default), `"first"` or `"last"`.
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
        input_axes: None, or the kernel axes read from the input, with
            `output_axes`; together they must name every axis once.
        output_axes: None, or the kernel axes written to the output.

    Example:

    >>> layers = [keras.layers.Dense(
    ...     64, activation="relu", kernel_initializer=LooksLinear(seed=i))
    ...     for i in range(100)]

    Reference:
        - [Balduzzi et al., 2017, section 5](
          https://arxiv.org/abs/1702.08591)
        - [Shang et al., 2016](https://arxiv.org/abs/1603.05201)
        - [Xiao et al., 2018](https://arxiv.org/abs/1806.05393)
    """

    def __init__(
        self,
        gain=1.0,
        position="hidden",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        if position not in POSITIONS:
            raise ValueError(
                f"Argument `position` must be one of {POSITIONS}. "
                f"Received: position={position!r}"
            )
        self._gain = resolve_gain(gain)
        self.gain = gain if isinstance(gain, str) else self._gain
        self.position = position
        super().__init__(
            seed=seed, input_axes=input_axes, output_axes=output_axes
        )

    def __call__(self, shape, dtype=None):
        if self.has_axes:
            return self._call_on_view(shape, dtype)
        shape = check_shape(
            shape,
            min_rank=2,
            max_rank=5,
            what="a looks-linear kernel ((in, out) or (*spatial, in, out))",
        )
        dtype = check_dtype(dtype)
        n_in, n_out = shape[-2], shape[-1]
        position = self._position_for(shape, n_in, n_out)
        spatial = shape[:-2]
        if position == "first":
            # The network's input is not mirrored, so the first layer may
            # read the whole patch: [A, -A] over it, not only the centre.
            rows = math.prod(shape[:-1])
            matrix = mirrored_matrix(
                rows, n_out, position, self._call_seed(), dtype, self._gain
            )
            return ops.reshape(matrix, shape)
        matrix = mirrored_matrix(
            n_in, n_out, position, self._call_seed(), dtype, self._gain
        )
        return centre_tap_kernel(matrix, spatial) if spatial else matrix

    def _call_on_view(self, shape, dtype):
        shape = check_shape(shape, what="a looks-linear kernel")
        dtype = check_dtype(dtype)
        n_in, n_out, perm = matrix_view(
            shape, self.input_axes, self.output_axes
        )
        position = self._position_for(shape, n_in, n_out)
        matrix = mirrored_matrix(
            n_in, n_out, position, self._call_seed(), dtype, self._gain
        )
        return from_matrix(matrix, shape, perm)

    def _position_for(self, shape, n_in, n_out):
        # One input unit cannot be a mirrored pair, so it is the network's
        # input ("first"); one output unit is its output ("last").
        if self.position == "hidden" and n_in == 1:
            return "first"
        if self.position == "hidden" and n_out == 1:
            return "last"
        if self.position == "last" and n_in == 1:
            raise ValueError(
                "Argument `shape` must have in >= 2 for a looks-linear "
                "kernel with position='last', which reads a mirrored pair; "
                "use position='first' or 'hidden' for one input unit. "
                f"Received: shape={shape}"
            )
        return self.position

    def get_config(self):
        return {
            "gain": self.gain,
            "position": self.position,
            **super().get_config(),
        }
