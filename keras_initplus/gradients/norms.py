"""Pure gradient-norm functions: global norm, per-layer norms, grouping.

Every function here takes tensors and returns tensors; none keeps state,
so they run the same eagerly, inside `tf.function` or `jax.jit`, under
XLA and in each replica of a `tf.distribute` strategy. They are written
with `keras.ops`; only TensorFlow's `tf.IndexedSlices` (sparse embedding
gradients, which no other backend produces) and its fused `l2_loss`
kernel take a TensorFlow branch.
"""

import numpy as np
from keras import ops

from keras_initplus.backend_support import TENSORFLOW

if TENSORFLOW:
    import tensorflow as tf


def _is_sparse(g):
    return TENSORFLOW and isinstance(g, tf.IndexedSlices)


def dense_values(g):
    """A tensor with the same L2 norm as the gradient's dense form.

    For `tf.IndexedSlices`, rows with the same index are summed first
    (as densifying would), so duplicates count once: `g.values` alone,
    what `tf.clip_by_global_norm` measures, overstates or understates
    the norm when a batch repeats an index. Costs O(stored values), not
    O(rows of the dense tensor).
    """
    if _is_sparse(g):
        unique, position = tf.unique(g.indices)
        return tf.math.unsorted_segment_sum(
            g.values, position, tf.shape(unique)[0]
        )
    return g


def scale_gradient(g, scale):
    """`g * scale`, keeping `tf.IndexedSlices` sparse."""
    if g is None:
        return None
    if _is_sparse(g):
        values = g.values * tf.cast(scale, g.values.dtype)
        return tf.IndexedSlices(values, g.indices, g.dense_shape)
    return g * ops.cast(scale, g.dtype)


def _squared_norm(t):
    t = ops.cast(dense_values(t), "float32")
    if TENSORFLOW:
        # `2 * l2_loss(t)` is one fused kernel where `sum(square(t))`
        # writes a full-size temporary first; on a CPU that halves the
        # cost, which is most of what measuring a large layer costs.
        return 2.0 * tf.nn.l2_loss(t)
    return ops.sum(ops.square(t))


def squared_norms(tensors):
    """Float32 vector of `sum(t**2)`, one entry per tensor.

    Summed in float32 so that float16 gradients do not overflow. It is
    also what `tf.linalg.global_norm` computes.
    """
    return ops.stack([_squared_norm(t) for t in tensors])


def global_norm(tensors):
    """`sqrt(sum_i ||t_i||^2)`, the L2 norm of all tensors as one vector."""
    return ops.sqrt(ops.sum(squared_norms(tensors)))


def layer_key(variable):
    """The layer a variable belongs to: its path without the last part.

    Keras 3 variables have paths such as `"block/dense_1/kernel"`; the
    layer is `"block/dense_1"`. A variable without a path is its own
    layer.
    """
    path = getattr(variable, "path", None) or getattr(variable, "name", "")
    path = path.split(":")[0]
    if "/" in path:
        return path.rsplit("/", 1)[0]
    return path


def group_by_layer(variables):
    """Groups variables into layers by path.

    Returns `(names, segment_ids)`: the layer names in first-seen order,
    and for each variable the index of its layer in `names`.
    """
    names = []
    index = {}
    segment_ids = []
    for v in variables:
        key = layer_key(v)
        if key not in index:
            index[key] = len(names)
            names.append(key)
        segment_ids.append(index[key])
    return names, segment_ids


def segment_sum(values, segment_ids, num_segments):
    """Sums a vector by segment, with constant ids.

    A segment sum rather than a product with a one-hot matrix: there an
    infinite entry would make `0 * inf = NaN` in every other segment.
    It compiles under XLA and costs one small kernel.
    """
    ids = ops.convert_to_tensor(np.asarray(segment_ids, np.int32))
    return ops.segment_sum(values, ids, num_segments=num_segments)


def layer_norms(squared, segment_ids, num_layers):
    """Per-layer L2 norms from per-variable squared norms."""
    return ops.sqrt(segment_sum(squared, segment_ids, num_layers))
