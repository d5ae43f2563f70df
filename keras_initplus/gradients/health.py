"""`GradientHealth`: per-step measuring, clipping and the finite check.

The one object that does the per-step work for both the callback and a
custom training loop. Its state lives in `tf.Variable`s, so a step
never talks to the host: statistics are summed, maxed and counted on
the device and read once per epoch (or whenever the caller chooses).
"""

import math

import numpy as np
import tensorflow as tf

from keras_initplus.gradients import clipping
from keras_initplus.gradients import norms as norms_lib

# Rows of the per-epoch scalar statistics vector.
SCALARS = (
    "steps",  # finite steps applied
    "norm_sum",  # sum of pre-clip global norms over finite steps
    "norm_max",
    "clipped",  # steps whose gradient was scaled down
    "nonfinite",  # steps skipped
    "spikes",  # steps flagged as exploding (finite ones)
)
# Rows of the per-layer statistics matrix. The last two persist across
# epochs; the others are reset at each epoch.
LAYER_ROWS = (
    "norm_sum",
    "norm_max",
    "ratio_sum",
    "vanishing_steps",
    "spike_steps",
    "nonfinite_steps",
    "streak",  # consecutive steps below the vanishing threshold
    "ema",  # running mean of the layer's gradient norm
)
EPOCH_LAYER_ROWS = 6
_S = {k: i for i, k in enumerate(SCALARS)}
_L = {k: i for i, k in enumerate(LAYER_ROWS)}


def _check_positive(value, name, allow_none=False, upper=math.inf):
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not 0.0 < float(value) < upper
    ):
        kind = "a positive finite float" + (" or None" if allow_none else "")
        if upper != math.inf:
            kind = f"a float in (0, {upper})"
        raise ValueError(
            f"Argument `{name}` must be {kind}. Received: {name}={value!r}"
        )
    return float(value)


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        ok = False
    else:
        ok = value >= low
    if not ok:
        raise ValueError(
            f"Argument `{name}` must be an int >= {low}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


class GradientHealth:
    """Measures, clips and checks gradients, one step at a time, in-graph.

    `grads, finite = health.apply(grads, variables)` does, for the
    gradients of one step:

    1. Under a replica context with more than one replica, sums the
       gradients across replicas (`ReduceOp.SUM`, as Keras does: its
       loss is already divided by the number of replicas), so that all
       that follows acts on the aggregated gradient, identically on every
       replica.
    2. Measures the global norm `||g|| = sqrt(sum_i ||g_i||^2)` before
       clipping, each layer's norm `||g_l||` and its ratio to the
       layer's weight norm, `r_l = ||g_l|| / max(||w_l||, 1e-12)`.
    3. Clips: with a float `clip_norm` `c`, `g <- g * min(1, c / ||g||)`
       (exactly `tf.clip_by_global_norm`); with `clip_mode="layer"`,
       `g_l <- g_l * min(1, c / ||g_l||)` for each layer; with `AutoClip`
       or `ZClip`, `c` is that rule's threshold for this step.
    4. `finite` is False when any gradient on any replica is NaN or Inf
       (the aggregated sum then is too). The caller must then skip the
       update; the statistics count the step as skipped and the adaptive
       state does not change.

    Variables with a `None` gradient are left out of every statistic and
    returned as `None`. Layers are grouped by variable path.

    Detection, accumulated on the device:
    - vanishing: a layer's `r_l` is below `vanishing_threshold` times the
      largest `r_l` of the step, for `vanishing_patience` steps in a row;
    - exploding: the global norm exceeds `explode_factor` times its
      running mean (the plain mean of the first 100 steps, then an EMA
      with decay 0.99; checked after `warmup_steps` steps), or exceeds
      `explode_norm`; a layer is named when its own norm exceeds
      `explode_factor` times its own running mean.

    Args:
        clip_norm: None (measure only), a positive float, `"autoclip"`,
            `"zclip"`, or an `AutoClip` / `ZClip` instance.
        clip_mode: `"global"` (default) or `"layer"`.
        vanishing_threshold: Float in (0, 1), default `1e-3`: three orders
            of magnitude below the best-trained layer.
        vanishing_patience: Int >= 1, default 50 steps.
        explode_factor: Float > 1, default 10.
        explode_norm: Positive float or None (default), an absolute cap
            on the global norm above which a step counts as exploding.
        warmup_steps: Int >= 1, default 25; no spike is flagged before.

    Example (custom training loop, one device or inside `strategy.run`):

    >>> health = GradientHealth(clip_norm=1.0)
    >>> health.build(model.trainable_variables)  # under strategy.scope()
    >>> grads, finite = health.apply(grads, model.trainable_variables)

    Use `GradientHealthOptimizer` to apply the result with a Keras
    optimizer, skipping non-finite steps and without summing again.

    References:
        - [Pascanu et al., 2013](https://arxiv.org/abs/1211.5063)
        - [Seetharaman et al., 2020](https://arxiv.org/abs/2007.14469)
        - [Kumar et al., 2025](https://arxiv.org/abs/2504.02507)
    """

    def __init__(
        self,
        clip_norm=None,
        clip_mode="global",
        *,
        vanishing_threshold=1e-3,
        vanishing_patience=50,
        explode_factor=10.0,
        explode_norm=None,
        warmup_steps=25,
    ):
        self.clip_norm = clipping.check_clip_norm(clip_norm)
        self.clip_mode = clipping.check_clip_mode(clip_mode, self.clip_norm)
        self.vanishing_threshold = _check_positive(
            vanishing_threshold, "vanishing_threshold", upper=1.0
        )
        self.vanishing_patience = _check_int(
            vanishing_patience, "vanishing_patience", 1
        )
        factor = _check_positive(explode_factor, "explode_factor")
        if factor <= 1.0:
            raise ValueError(
                "Argument `explode_factor` must be a float > 1. "
                f"Received: explode_factor={explode_factor!r}"
            )
        self.explode_factor = factor
        self.explode_norm = _check_positive(
            explode_norm, "explode_norm", allow_none=True
        )
        self.warmup_steps = _check_int(warmup_steps, "warmup_steps", 1)
        self.built = False
        self.layer_names = []

    @property
    def adaptive(self):
        return isinstance(self.clip_norm, (clipping.AutoClip, clipping.ZClip))

    def build(self, variables):
        """Creates the state for `variables` (call under the strategy's
        scope, outside `tf.function`)."""
        variables = list(variables)
        self._var_keys = [_key(v) for v in variables]
        self.layer_names, self._segment_ids = norms_lib.group_by_layer(
            variables
        )
        n = len(self.layer_names)
        only_first = tf.VariableAggregation.ONLY_FIRST_REPLICA

        # Every replica computes the same statistics from the same
        # summed gradient, so each keeps its own copy (ON_READ) and
        # reads return the first replica's: no cross-device copy per
        # step.
        def var(value, name):
            return tf.Variable(
                value,
                trainable=False,
                name=name,
                aggregation=only_first,
                synchronization=tf.VariableSynchronization.ON_READ,
            )

        with tf.init_scope():
            self.scalars = var(
                np.zeros((len(SCALARS),), np.float32), "grad_health_scalars"
            )
            self.layers = var(
                np.zeros((len(LAYER_ROWS), n), np.float32),
                "grad_health_layers",
            )
            # Running mean of the global norm and the step count, which
            # persist across epochs.
            self.running = var(np.zeros((2,), np.float32), "grad_health_run")
            self.rule_state = {}
            if self.adaptive:
                for k, v in self.clip_norm.initial_state().items():
                    self.rule_state[k] = var(v, f"grad_health_clip_{k}")
        # About sixty tiny element-wise ops: one XLA cluster runs them
        # as one kernel, which is most of the difference between a few
        # percent of overhead and ten.
        self._next_stats = tf.function(
            self._stats_update, jit_compile=True, autograph=False
        )
        self.built = True

    def matches(self, variables):
        """Whether the state was built for exactly these variables."""
        return self.built and [_key(v) for v in variables] == self._var_keys

    def reset_epoch(self):
        """Zeroes the per-epoch statistics (eager; outside the step)."""
        self.scalars.assign(tf.zeros_like(self.scalars))
        keep = self.layers.numpy()[EPOCH_LAYER_ROWS:]
        fresh = np.zeros_like(self.layers.numpy())
        fresh[EPOCH_LAYER_ROWS:] = keep
        self.layers.assign(fresh)

    def read(self):
        """The statistics as numpy arrays: one host transfer."""
        return self.scalars.numpy(), self.layers.numpy()

    def apply(self, grads, variables, aggregate=True):
        """One step. Returns `(grads, finite)`.

        `grads` are the aggregated (summed across replicas when
        `aggregate` and under a strategy) and clipped gradients, `None`
        where the input was `None`; `finite` a scalar bool tensor.
        """
        if not self.built:
            if tf.distribute.in_cross_replica_context() or (
                not tf.distribute.has_strategy()
            ):
                self.build(variables)
            else:
                raise ValueError(
                    "GradientHealth must be built before `apply` under a "
                    "distribution strategy: call "
                    "`health.build(model.trainable_variables)` inside "
                    "`strategy.scope()`."
                )
        grads = list(grads)
        variables = list(variables)
        if len(grads) != len(self._var_keys):
            raise ValueError(
                f"GradientHealth was built for {len(self._var_keys)} "
                f"variables; `apply` received {len(grads)} gradients."
            )
        present = [i for i, g in enumerate(grads) if g is not None]
        if not present:
            return grads, tf.constant(True)
        g_list = [grads[i] for i in present]
        if aggregate:
            ctx = tf.distribute.get_replica_context()
            if ctx is not None and ctx.num_replicas_in_sync > 1:
                g_list = ctx.all_reduce(tf.distribute.ReduceOp.SUM, g_list)
        w_list = [variables[i] for i in present]
        seg = [self._segment_ids[i] for i in present]
        n_layers = len(self.layer_names)

        sq = norms_lib.squared_norms(g_list)
        layer_norm = norms_lib.layer_norms(sq, seg, n_layers)
        norm = tf.sqrt(tf.reduce_sum(sq))
        finite = tf.math.is_finite(norm)
        w_norm = norms_lib.layer_norms(
            norms_lib.squared_norms([_value(w) for w in w_list]),
            seg,
            n_layers,
        )
        ratio = layer_norm / tf.maximum(w_norm, 1e-12)
        has_grad = (
            norms_lib.segment_sum(
                tf.ones([len(seg)], tf.float32), seg, n_layers
            )
            > 0
        )

        new_rule_state = None
        if self.clip_norm is None:
            clipped_flag = tf.constant(False)
            out = g_list
        elif self.clip_mode == "layer":
            clipped_flag = tf.reduce_any(layer_norm > self.clip_norm)
            out = clipping.clip_by_layer_norm(
                g_list, seg, self.clip_norm, layer_norm
            )
        else:
            if self.adaptive:
                state = {k: v.read_value() for k, v in self.rule_state.items()}
                thr, new_rule_state = self.clip_norm.threshold(state, norm)
            else:
                thr = tf.constant(self.clip_norm, tf.float32)
            clipped_flag = norm > thr
            if self.adaptive:
                # ZClip's threshold is +inf on calm steps, where the
                # tf.clip_by_global_norm formula would give inf * 0.
                scale = tf.where(
                    clipped_flag, thr / norm, tf.constant(1.0, tf.float32)
                )
                scale = scale + (norm - norm)
                out = [norms_lib.scale_gradient(g, scale) for g in g_list]
            else:
                out = clipping.clip_by_global_norm(g_list, thr, norm)

        running, scalars, layers = self._next_stats(
            norm,
            finite,
            clipped_flag,
            layer_norm,
            ratio,
            has_grad,
            self.running.read_value(),
            self.scalars.read_value(),
            self.layers.read_value(),
        )
        self.running.assign(running)
        self.scalars.assign(scalars)
        self.layers.assign(layers)
        if new_rule_state is not None:
            for k, v in self.rule_state.items():
                v.assign(tf.where(finite, new_rule_state[k], v))

        result = list(grads)
        for i, g in zip(present, out):
            result[i] = g
        return result, finite

    def _stats_update(
        self, norm, finite, clipped, layer_norm, ratio, has, running, s, L
    ):
        """Pure: the next statistics from this step's measurements."""
        f32 = tf.float32
        fin = tf.cast(finite, f32)
        safe_norm = tf.where(finite, norm, 0.0)
        ema, count = running[0], running[1]
        warm = count >= self.warmup_steps
        spike = tf.logical_and(warm, norm > self.explode_factor * ema)
        if self.explode_norm is not None:
            spike = tf.logical_or(spike, norm > self.explode_norm)
        spike = tf.logical_and(spike, finite)
        # The plain mean of the first 100 steps, then an EMA with decay
        # 0.99: an EMA started from the first, often atypical, step
        # would stay biased towards it for hundreds of steps.
        rate = 1.0 / tf.minimum(count + 1.0, 100.0)
        new_ema = ema + rate * (safe_norm - ema)
        new_running = tf.where(
            finite, tf.stack([new_ema, count + 1.0]), running
        )

        step_vec = tf.stack(
            [
                fin,
                safe_norm,
                safe_norm,
                fin * tf.cast(clipped, f32),
                1.0 - fin,
                tf.cast(spike, f32),
            ]
        )
        is_max = np.zeros(len(SCALARS), bool)
        is_max[_S["norm_max"]] = True
        new_s = tf.where(is_max, tf.maximum(s, step_vec), s + step_vec)

        layer_finite = tf.math.is_finite(layer_norm)
        usable = tf.logical_and(layer_finite, finite)
        ln = tf.where(usable, layer_norm, 0.0)
        rt = tf.where(usable, ratio, 0.0)
        best = tf.reduce_max(tf.where(has, rt, 0.0))
        low = tf.logical_and(
            tf.logical_and(usable, has), rt < self.vanishing_threshold * best
        )
        streak = tf.where(
            finite, tf.where(low, L[_L["streak"]] + 1.0, 0.0), L[_L["streak"]]
        )
        vanishing = tf.logical_and(low, streak >= self.vanishing_patience)
        layer_ema = L[_L["ema"]]
        layer_spike = tf.logical_and(
            tf.logical_and(usable, warm), ln > self.explode_factor * layer_ema
        )
        layer_spike = tf.logical_and(layer_spike, spike)
        new_layer_ema = tf.where(
            usable, layer_ema + rate * (ln - layer_ema), layer_ema
        )
        new_L = tf.stack(
            [
                L[_L["norm_sum"]] + ln,
                tf.maximum(L[_L["norm_max"]], ln),
                L[_L["ratio_sum"]] + rt,
                L[_L["vanishing_steps"]] + tf.cast(vanishing, f32),
                L[_L["spike_steps"]] + tf.cast(layer_spike, f32),
                L[_L["nonfinite_steps"]]
                + tf.cast(tf.logical_not(layer_finite), f32),
                streak,
                new_layer_ema,
            ]
        )
        return new_running, new_s, new_L


def _value(v):
    return getattr(v, "value", v)


def _key(v):
    return id(v)
