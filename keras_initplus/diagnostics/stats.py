"""Per-layer statistics of a recorded forward pass."""

import keras
import numpy as np

from keras_initplus.diagnostics.capture import RELU_LIKE, SATURATING

HISTOGRAM_SAMPLE = 4096


def _sample(values, rng):
    flat = values.ravel()
    if flat.size <= HISTOGRAM_SAMPLE:
        return flat.copy()
    return rng.choice(flat, HISTOGRAM_SAMPLE, replace=False)


def saturated_fraction(post, activation):
    """Fraction of activations within 1% of a saturating bound, or None."""
    bound = SATURATING.get(activation)
    if bound is None:
        return None
    if activation == "tanh":
        return float(np.mean(np.abs(post) > bound))
    return float(np.mean((post > bound) | (post < 1 - bound)))


def dead_fraction(post, activation):
    """Fraction of units (last axis) that are zero over the whole batch."""
    if activation not in RELU_LIKE:
        return None
    units = post.reshape(-1, post.shape[-1])
    return float(np.mean(np.all(units == 0, axis=0)))


def forward_stats(pre, post, activation, rng):
    # convert_to_numpy also detaches PyTorch tensors that require grad.
    pre = keras.ops.convert_to_numpy(pre).astype(np.float64)
    post = keras.ops.convert_to_numpy(post).astype(np.float64)
    return {
        "activation": activation,
        "pre_mean": float(pre.mean()),
        "pre_std": float(pre.std()),
        "post_mean": float(post.mean()),
        "post_std": float(post.std()),
        "saturated": saturated_fraction(post, activation),
        "dead": dead_fraction(post, activation),
        "sample": _sample(post, rng),
    }
