"""The LSUV kernel initializer: orthonormal values plus a marker."""

from keras_initplus.initializers.axes import from_matrix, matrix_view
from keras_initplus.initializers.orthonormal import haar_orthonormal
from keras_initplus.initializers.seeded import SeededInitializer, register
from keras_initplus.initializers.validation import check_dtype, check_shape


@register
class LSUV(SeededInitializer):
    """Orthonormal pre-initialization for layer-sequential unit variance.

    The kernel is viewed as its input x output matrix, over the axes an
    `EinsumDense` passes, else with `rows = prod(shape[:-1])` and
    `cols = shape[-1]` (the view of `keras.initializers.Orthogonal`), and
    filled with a Haar-random matrix
    with orthonormal columns when rows >= cols, orthonormal rows
    otherwise:

        W^T W = I  (rows >= cols),    W W^T = I  (rows < cols).

    This is step 1 of LSUV (Mishkin & Matas, 2016, Algorithm 1). On its
    own the initializer is a plain orthonormal initializer and the model
    is complete and trainable. It also marks the layer for step 2, the
    data-driven pass `keras_initplus.lsuv_init(model, x)`, which by
    default rescales exactly the layers whose kernel initializer is
    `LSUV` so that each one's pre-activation output has unit variance on
    the batch `x`.

    Use it wherever a layer takes a kernel initializer: `Dense`,
    `EinsumDense`, convolutions (`kernel_initializer`), `DepthwiseConv2D`
    (`depthwise_initializer`), `SeparableConv2D` (`depthwise_initializer`
    or `pointwise_initializer`), `Embedding` (`embeddings_initializer`),
    and `LSTM`/`GRU`/`SimpleRNN` (`kernel_initializer`).

    Args:
        seed: None, a non-negative int, or a `keras.random.SeedGenerator`.
            With None every call draws fresh values; an int gives the same
            values on every call and in every process.

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input((32,)),
    ...     keras.layers.Dense(64, activation="relu",
    ...                        kernel_initializer=LSUV(seed=1)),
    ...     keras.layers.Dense(10, kernel_initializer="lsuv"),
    ... ])
    >>> report = keras_initplus.lsuv_init(model, x_batch)

    Reference:
        - [Mishkin & Matas, 2016](https://arxiv.org/abs/1511.06422)
        - [Saxe et al., 2014](https://arxiv.org/abs/1312.6120)
    """

    def __call__(self, shape, dtype=None):
        shape = check_shape(shape, min_rank=2, what="an LSUV kernel")
        dtype = check_dtype(dtype)
        rows, cols, perm = matrix_view(shape, self.input_axes, self.output_axes)
        q = haar_orthonormal(rows, cols, self._call_seed(), dtype)
        return from_matrix(q, shape, perm)
