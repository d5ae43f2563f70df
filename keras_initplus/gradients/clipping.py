"""L2-norm clipping: the clip functions and the rules that set the
threshold (`NoClip`, `FixedClip`, `AutoClip`, `ZClip`).

`scale_for(norm, threshold)` is the clip factor, the one
`tf.clip_by_global_norm` applies; `clip_by_global_norm` and
`clip_by_layer_norm` apply it. Every rule has one shape, as optax's
gradient transformations do: `init()` is its initial state (a dict of
numpy arrays, empty for the fixed rules) and `update(state, norm)` the
threshold for this step's global norm and the next state. Both are
pure and written with `keras.ops`, so they run on every backend; the
caller decides whether to keep the new state (it does not on a
skipped, non-finite step). `get` turns every accepted `clip_norm`
(None, a float, `"autoclip"`, `"zclip"` or a rule) into a rule, once.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_initplus.gradients import norms as norms_lib
from keras_initplus.validation import check_float, check_int, is_real


def scale_for(norm, threshold):
    """`min(1, threshold / norm)`: the clip factor for a norm.

    Exactly 1 when `norm <= threshold`, so gradients at or below the
    threshold come back bit-identical (`tf.clip_by_global_norm`'s
    `threshold * min(1 / norm, 1 / threshold)` need not give exactly 1);
    `threshold / norm` above it; 1 for a +inf threshold (a calm ZClip
    step); NaN when `norm` is not finite, as in `tf.clip_by_global_norm`.
    """
    threshold = ops.cast(threshold, norm.dtype)
    scale = ops.where(norm > threshold, threshold / norm, 1.0)
    return scale + (norm - norm)


def clip_by_global_norm(grads, threshold, norm=None):
    """Scales all gradients by `min(1, threshold / ||grads||)`.

    `tf.clip_by_global_norm(grads, threshold)[0]` to float rounding. `None`
    entries stay `None`. `norm`, when given, is the global norm already
    computed, so it is not computed twice.

    Example:

    >>> g = [keras.ops.array([3.0, 4.0])]
    >>> keras.ops.convert_to_numpy(clip_by_global_norm(g, 1.0)[0])
    array([0.6, 0.8], dtype=float32)
    """
    present = [g for g in grads if g is not None]
    if norm is None:
        norm = norms_lib.global_norm(present)
    scale = scale_for(norm, threshold)
    return [norms_lib.scale_gradient(g, scale) for g in grads]


def clip_by_layer_norm(grads, segment_ids, threshold, layer_norms):
    """Scales each layer's gradients so the layer's L2 norm is at most
    `threshold`.

    `grads` has no `None` entries; `segment_ids[i]` is the layer of
    `grads[i]`, and `layer_norms` the norms of the layers.
    """
    scales = scale_for(layer_norms, threshold)
    ids = np.asarray(segment_ids, np.int32)
    per_var = ops.take(scales, ids)
    return [
        norms_lib.scale_gradient(g, per_var[i]) for i, g in enumerate(grads)
    ]


class ClipRule:
    """The interface of a clip rule (see the module docstring).

    `per_layer` says whether its threshold may also bound each layer's
    norm (`clip_mode="layer"`); `clips` is False for a rule that never
    scales a gradient, so the step can leave the gradients alone.
    """

    per_layer = False
    clips = True

    def init(self):
        """The initial state: a dict of numpy arrays."""
        return {}

    def update(self, state, norm):
        """`(threshold, new_state)` for a step with global norm `norm`."""
        raise NotImplementedError

    def as_argument(self):
        """The `clip_norm` argument this rule stands for, as
        `GradientHealth.clip_norm` reports and its config stores it."""
        return self


class NoClip(ClipRule):
    """Never clips (`clip_norm=None`): the threshold is +inf."""

    per_layer = True
    clips = False

    def update(self, state, norm):
        return ops.convert_to_tensor(math.inf, "float32"), state

    def as_argument(self):
        return None

    def __repr__(self):
        return "NoClip()"


class FixedClip(ClipRule):
    """Clips to a fixed threshold (`clip_norm=c`, a positive float)."""

    per_layer = True

    def __init__(self, clip_norm):
        if not (is_real(clip_norm) and 0.0 < float(clip_norm) < math.inf):
            raise ValueError(_bad_clip_norm(clip_norm))
        self.clip_norm = float(clip_norm)

    def update(self, state, norm):
        return ops.convert_to_tensor(self.clip_norm, "float32"), state

    def as_argument(self):
        return self.clip_norm

    def __repr__(self):
        return f"FixedClip({self.clip_norm})"


@keras.saving.register_keras_serializable(package="keras_initplus")
class AutoClip(ClipRule):
    """Clips to a percentile of the gradient norms seen so far.

    At each step the pre-clip global norm is added to the history, and
    the threshold is the `percentile`-th percentile of the history
    (linear interpolation, as `numpy.percentile`). The history is the
    last `history` finite steps, a ring buffer kept on the device.

    Defaults follow the paper: `percentile=10`, the value it reports as
    working well across models. The paper keeps the whole run; a
    bounded window keeps the per-step cost constant.

    Args:
        percentile: Float in (0, 100].
        history: Int >= 1, the number of recent norms kept.

    Example:

    >>> cb = GradientHealthCallback(clip_norm=AutoClip(percentile=10))

    Reference:
        - [Seetharaman et al., 2020](https://arxiv.org/abs/2007.14469)
    """

    def __init__(self, percentile=10.0, history=1000):
        percentile = check_float(
            percentile, "percentile", high=100.0, high_closed=True
        )
        history = check_int(history, "history", 1)
        self.percentile = percentile
        self.history = history

    def init(self):
        return {
            "buffer": np.zeros((self.history,), np.float32),
            "count": np.zeros((), np.float32),
        }

    def update(self, state, norm):
        count = state["count"]
        slots = np.arange(self.history, dtype=np.float32)
        # A select rather than a scatter: the same on every backend, and
        # cheap at this size.
        slot = ops.mod(count, float(self.history))
        buffer = ops.where(ops.equal(slots, slot), norm, state["buffer"])
        n = ops.minimum(count + 1.0, float(self.history))
        ordered = ops.sort(ops.where(ops.less(slots, n), buffer, np.inf))
        pos = self.percentile / 100.0 * (n - 1.0)
        lo = ops.floor(pos)
        hi = ops.minimum(lo + 1.0, n - 1.0)
        a = ops.take(ordered, ops.cast(lo, "int32"))
        b = ops.take(ordered, ops.cast(hi, "int32"))
        thr = a + (pos - lo) * (b - a)
        return thr, {"buffer": buffer, "count": count + 1.0}

    def get_config(self):
        return {"percentile": self.percentile, "history": self.history}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"AutoClip(percentile={self.percentile}, history={self.history})"


@keras.saving.register_keras_serializable(package="keras_initplus")
class ZClip(ClipRule):
    """Clips norm spikes by their z-score against running statistics.

    Keeps exponential moving averages of the mean `mu` and variance
    `sigma^2` of the global norm `g`. After `warmup_steps` steps, with
    `z = (g - mu) / sigma`, a step with `z > z_thresh` is clipped to

        g* = mu + (z_thresh**2 / z) * sigma      (the "reciprocal" rule)

    and the statistics are then updated with the clipped norm `g*`:
    `mu <- alpha mu + (1 - alpha) g*`,
    `sigma^2 <- alpha sigma^2 + (1 - alpha) (g* - mu)^2`.
    During warmup nothing is clipped and `mu`, `sigma^2` are the plain
    mean and variance of the norms seen.

    Defaults are the paper's: `alpha=0.97`, `z_thresh=2.5`,
    `warmup_steps=25`.

    Args:
        alpha: Float in (0, 1), the EMA decay.
        z_thresh: Positive float.
        warmup_steps: Int >= 2.

    Example:

    >>> cb = GradientHealthCallback(clip_norm=ZClip(z_thresh=2.5))

    Reference:
        - [Kumar et al., 2025](https://arxiv.org/abs/2504.02507)
    """

    def __init__(self, alpha=0.97, z_thresh=2.5, warmup_steps=25):
        alpha = check_float(alpha, "alpha", high=1.0)
        z_thresh = check_float(z_thresh, "z_thresh")
        warmup_steps = check_int(warmup_steps, "warmup_steps", 2)
        self.alpha = float(alpha)
        self.z_thresh = float(z_thresh)
        self.warmup_steps = warmup_steps

    def init(self):
        zero = np.zeros((), np.float32)
        return {"mean": zero, "var": zero, "count": zero}

    def update(self, state, norm):
        mean, var, count = state["mean"], state["var"], state["count"]
        warm = count < self.warmup_steps
        std = ops.sqrt(ops.maximum(var, 0.0))
        z = (norm - mean) / ops.maximum(std, 1e-12)
        spike = ops.logical_and(ops.logical_not(warm), z > self.z_thresh)
        clipped_to = mean + (self.z_thresh**2 / ops.maximum(z, 1e-12)) * std
        thr = ops.where(spike, clipped_to, np.inf)
        g = ops.minimum(norm, thr)
        # Welford's running mean and variance during warmup.
        n = count + 1.0
        w_mean = mean + (g - mean) / n
        w_var = var + ((g - mean) * (g - w_mean) - var) / n
        a = self.alpha
        e_mean = a * mean + (1.0 - a) * g
        e_var = a * var + (1.0 - a) * ops.square(g - e_mean)
        new = {
            "mean": ops.where(warm, w_mean, e_mean),
            "var": ops.where(warm, w_var, e_var),
            "count": n,
        }
        return thr, new

    def get_config(self):
        return {
            "alpha": self.alpha,
            "z_thresh": self.z_thresh,
            "warmup_steps": self.warmup_steps,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (
            f"ZClip(alpha={self.alpha}, z_thresh={self.z_thresh}, "
            f"warmup_steps={self.warmup_steps})"
        )


ADAPTIVE = {"autoclip": AutoClip, "zclip": ZClip}


def get(clip_norm):
    """The `ClipRule` for a `clip_norm` argument: None, a positive finite
    float, `"autoclip"`, `"zclip"` or a rule (returned as is)."""
    if clip_norm is None:
        return NoClip()
    if isinstance(clip_norm, ClipRule):
        return clip_norm
    if isinstance(clip_norm, str) and clip_norm.lower() in ADAPTIVE:
        return ADAPTIVE[clip_norm.lower()]()
    return FixedClip(clip_norm)


def _bad_clip_norm(clip_norm):
    return (
        "Argument `clip_norm` must be a positive finite float, None, "
        '"autoclip", "zclip", an `AutoClip` or a `ZClip`. '
        f"Received: clip_norm={clip_norm!r}"
    )


CLIP_MODES = ("global", "layer")


def check_clip_mode(clip_mode, rule):
    """Validates `clip_mode` against the clip rule."""
    if clip_mode not in CLIP_MODES:
        raise ValueError(
            f"Argument `clip_mode` must be one of {CLIP_MODES}. "
            f"Received: clip_mode={clip_mode!r}"
        )
    if clip_mode == "layer" and not rule.per_layer:
        raise ValueError(
            'Argument `clip_mode="layer"` needs a float `clip_norm`: '
            "the adaptive rules learn one threshold for the global norm. "
            f"Received: clip_norm={rule!r}, clip_mode={clip_mode!r}"
        )
    return clip_mode
