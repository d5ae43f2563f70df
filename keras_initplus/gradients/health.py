"""`GradientHealth`: per-step measuring, clipping and the finite check.

The one object that does the per-step work for both the callback and a
custom training loop, on every Keras backend. Its state lives in
variables, so a step never talks to the host: statistics are summed,
maxed and counted on the device and read once per epoch (or whenever
the caller chooses).

The step itself, `GradientHealth.update`, is a pure function written
with `keras.ops`, state in and state out: JAX's functional train step
carries the state (as `GradientHealthOptimizer`'s variables), and
`apply` reads and writes it in place. On TensorFlow `apply` first sums
the gradients across `tf.distribute` replicas; every replica then
computes the same state, and keeps its own copy of it.
"""

import contextlib
import warnings

import keras
import numpy as np
from keras import ops

from keras_initplus.backend_support import (
    TENSORFLOW,
    check_gradient_backend,
)
from keras_initplus.gradients import clipping
from keras_initplus.gradients import norms as norms_lib
from keras_initplus.gradients import roles as roles_lib
from keras_initplus.gradients import stats as stats_lib
from keras_initplus.validation import check_float, check_int

if TENSORFLOW:
    import tensorflow as tf


# In a network with normalization layers, the vanishing threshold for
# weight matrices is this fraction of `vanishing_threshold`.
NORMALIZED_FACTOR = 0.2


@keras.saving.register_keras_serializable(package="keras_initplus")
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
       (`tf.clip_by_global_norm`'s result, to float rounding, and the
       gradient bit for bit when `||g|| <= c`); with `clip_mode="layer"`,
       `g_l <- g_l * min(1, c / ||g_l||)` for each layer; with `AutoClip`
       or `ZClip`, `c` is that rule's threshold for this step.
    4. `finite` is False when any gradient on any replica is NaN or Inf
       (the aggregated sum then is too). The caller must then skip the
       update; the statistics count the step as skipped and the adaptive
       state does not change.

    Variables with a `None` gradient are left out of every statistic and
    returned as `None`. Layers are grouped by variable path.

    Detection statistics, accumulated on the device and judged once per
    epoch by `keras_initplus.gradients.alerts.find_alerts`:
    - for each layer, the number of steps in which it is vanishing: for
      a weight matrix, its `r_l` below `matrix_threshold` times the
      step's largest `r_l` of a weight matrix (leaving out the first,
      the stem, in a network with normalization layers); for
      other weights (normalization, embeddings, depthwise kernels,
      attention query and key, squeeze-excite gates: see
      `gradients.roles`), a gradient that is exactly zero. A layer that
      is so in at least `vanishing_fraction` of the epoch's steps is
      named;
    - the sums of `r_l` and of `r_l` after clipping (exploding when the
      mean `r_l` exceeds `explode_ratio`, or the update it implies
      exceeds `explode_update` times the weights);
    - steps whose global norm exceeds `explode_factor` times its running
      mean (the plain mean of the first 100 steps, then an EMA with
      decay 0.99; checked after `warmup_steps` steps), or `explode_norm`;
      a layer is named when its own norm exceeds `explode_factor` times
      its own running mean.

    Args:
        clip_norm: None (measure only), a positive float, `"autoclip"`,
            `"zclip"`, or an `AutoClip` / `ZClip` instance.
        clip_mode: `"global"` (default) or `"layer"`.
        vanishing_threshold: Float in (0, 1), default `5e-3`: more than
            two orders of magnitude below the best-trained weight matrix.
            In a network with normalization layers a fifth of it applies
            (`matrix_threshold`, 1e-3 by default): a kernel that feeds a
            normalization is scale invariant, its gradient shrinks as
            its weights grow, and healthy ratios spread wider (down to
            3e-3 x in keras.applications and keras-hub models, where
            broken ones sat at 2e-4 x and below; docs/real_model_matrix).
        vanishing_fraction: Float in (0, 1], default 0.5: the share of an
            epoch's steps a layer must spend below the threshold.
        explode_ratio: Float > 0, default `1e3`: a mean gradient-to-weight
            ratio above which a layer's gradient is exploding.
        explode_update: Float > 0, default 1: an estimated update larger
            than this times the layer's weights, per step, is exploding.
        explode_factor: Float > 1, default 100.
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
        vanishing_threshold=5e-3,
        vanishing_fraction=0.5,
        explode_ratio=1e3,
        explode_update=1.0,
        explode_factor=100.0,
        explode_norm=None,
        warmup_steps=25,
    ):
        check_gradient_backend("GradientHealth")
        # Every form of `clip_norm` becomes one `ClipRule`, here, once.
        self.clip_rule = clipping.get(clip_norm)
        self.clip_mode = clipping.check_clip_mode(clip_mode, self.clip_rule)
        self.vanishing_threshold = check_float(
            vanishing_threshold, "vanishing_threshold", high=1.0
        )
        self.vanishing_fraction = check_float(
            vanishing_fraction, "vanishing_fraction", high=1.0, high_closed=True
        )
        self.explode_ratio = check_float(explode_ratio, "explode_ratio")
        self.explode_update = check_float(explode_update, "explode_update")
        self.explode_factor = check_float(
            explode_factor, "explode_factor", low=1.0
        )
        self.explode_norm = check_float(
            explode_norm, "explode_norm", allow_none=True
        )
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", 1)
        self.built = False
        self.layer_names = []
        self.layer_sizes = []
        self.layer_roles = ()
        self._zero_only = frozenset()
        self._normalized = None
        self._normalized_net = False

    def get_config(self):
        return {
            # A float or a string passes through; a rule becomes a dict.
            "clip_norm": keras.saving.serialize_keras_object(self.clip_norm),
            "clip_mode": self.clip_mode,
            "vanishing_threshold": self.vanishing_threshold,
            "vanishing_fraction": self.vanishing_fraction,
            "explode_ratio": self.explode_ratio,
            "explode_update": self.explode_update,
            "explode_factor": self.explode_factor,
            "explode_norm": self.explode_norm,
            "warmup_steps": self.warmup_steps,
        }

    def __repr__(self):
        # Shown in error messages that echo a GradientHealth back.
        return (
            f"GradientHealth(clip_norm={self.clip_norm!r}, "
            f"clip_mode={self.clip_mode!r})"
        )

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("clip_norm"), dict):
            config["clip_norm"] = keras.saving.deserialize_keras_object(
                config["clip_norm"]
            )
        return cls(**config)

    @property
    def clip_norm(self):
        """The `clip_norm` argument: None, a float, or the rule."""
        return self.clip_rule.as_argument()

    def read_model(self, model):
        """Reads from `model` which layers the vanishing rule judges only
        for a zero gradient although their weights look like matrices:
        depthwise convolutions, attention query and key, squeeze-excite
        branches (see `gradients.roles`), and whether it has
        normalization layers (then the stem does not set the reference).
        Call before `build`; `GradientHealthCallback` does. Without it,
        layers named `query` and `key` are still recognised, the others
        judged as matrices, and normalization told by variables named
        `gamma` or `beta`. On a state already built for the model's
        trainable variables (a compiled `GradientHealthOptimizer`'s), the
        roles are read again; the next trace of the step uses them."""
        self._zero_only = frozenset(roles_lib.zero_only_variables(model))
        self._normalized = roles_lib.has_normalization(model)
        variables = list(model.trainable_variables)
        if self.matches(variables):
            self.layer_roles = self._roles(variables)

    @property
    def matrix_threshold(self):
        """The vanishing threshold for weight matrices, relative to the
        largest one: `vanishing_threshold`, or a fifth of it in a network
        with normalization layers (known once built)."""
        if self._normalized_net:
            return self.vanishing_threshold * NORMALIZED_FACTOR
        return self.vanishing_threshold

    def _roles(self, variables):
        self._normalized_net = roles_lib.is_normalized(
            variables, self._normalized
        )
        return roles_lib.layer_roles(
            variables,
            self.layer_names,
            self._segment_ids,
            self._zero_only,
            self._normalized,
        )

    def build(self, variables, make_variable=None):
        """Creates the state for `variables` (call under the strategy's
        scope, outside `tf.function`).

        `make_variable(name, value)` creates one state variable from its
        initial numpy value; by default a non-trainable `keras.Variable`.
        `GradientHealthOptimizer` passes its own `add_variable`, so that
        the state is the optimizer's.
        """
        variables = list(variables)
        self._var_keys = [_key(v) for v in variables]
        self.layer_names, self._segment_ids = norms_lib.group_by_layer(
            variables
        )
        n = len(self.layer_names)
        self.layer_roles = self._roles(variables)
        sizes = np.zeros((n,), np.int64)
        for v, j in zip(variables, self._segment_ids):
            sizes[j] += int(np.prod(v.shape))
        self.layer_sizes = sizes.tolist()

        initial = {"grad_health": np.zeros((stats_lib.size(n),), np.float32)}
        rule_init = self.clip_rule.init()
        for k, v in rule_init.items():
            initial[f"grad_health_clip_{k}"] = v
        # All statistics in one vector (laid out by `stats.pack`): one
        # read and one write per step.
        make_variable = make_variable or _make_variable
        made = {name: make_variable(name, v) for name, v in initial.items()}
        self.state = made.pop("grad_health")
        self.rule_state = {k: made[f"grad_health_clip_{k}"] for k in rule_init}
        self._measure_fn = self._measure
        if TENSORFLOW:
            # The step's bookkeeping (layer norms, ratios, about sixty
            # element-wise ops on short vectors) as one XLA cluster with
            # few inputs: launching it costs less than running the ops
            # one by one. JAX compiles the whole step anyway.
            self._measure_fn = tf.function(
                self._measure, jit_compile=True, autograph=False
            )
        self.built = True

    @property
    def variables(self):
        """The state variables: the statistics, then the clip rule's."""
        return [self.state, *self.rule_state.values()]

    def matches(self, variables):
        """Whether the state was built for exactly these variables."""
        return self.built and [_key(v) for v in variables] == self._var_keys

    def reset_epoch(self):
        """Zeroes the per-epoch statistics (eager; outside the step)."""
        n = len(self.layer_names)
        self.state.assign(stats_lib.reset_epoch(_numpy(self.state), n))

    def state_values(self):
        """The state as numpy arrays, in the order of `variables`."""
        return [np.array(_numpy(v)) for v in self.variables]

    def load_state_values(self, values):
        """Restores `state_values()` output; warns and keeps the current
        state when it was saved for other variables."""
        values = [np.asarray(v) for v in values]
        if values:
            values[0] = stats_lib.upgrade(values[0], len(self.layer_names))
        shapes = [tuple(v.shape) for v in self.variables]
        if [v.shape for v in values] != shapes:
            warnings.warn(
                "Skipping the gradient health state: it was saved with "
                f"shapes {[v.shape for v in values]}, the state here has "
                f"shapes {shapes}.",
                stacklevel=2,
            )
            return
        for variable, value in zip(self.variables, values):
            variable.assign(value)

    def stats(self):
        """The statistics as a `stats.HealthStats` of numpy values: one
        host transfer."""
        return stats_lib.unpack(_numpy(self.state), len(self.layer_names))

    def summary(self, epoch=0, optimizer=None):
        """The `stats.EpochSummary` of the steps since `reset_epoch`;
        `optimizer`, if given, estimates the update ratios."""
        return stats_lib.summarize(
            self.stats(), self.layer_names, self.layer_sizes, epoch, optimizer
        )

    def apply(self, grads, variables, aggregate=True):
        """One step, in place. Returns `(grads, finite)`.

        `grads` are the aggregated (on TensorFlow, summed across
        replicas when `aggregate` and under a strategy) and clipped
        gradients, `None` where the input was `None`; `finite` a scalar
        bool tensor. Under JAX's tracing use `update`.
        """
        if not self.built:
            if can_build_here():
                self.build(variables)
            else:
                raise ValueError(
                    "GradientHealth must be built before `apply` under a "
                    "distribution strategy: call "
                    "`health.build(model.trainable_variables)` inside "
                    "`strategy.scope()`."
                )
        grads = list(grads)
        if aggregate and TENSORFLOW:
            grads = _sum_across_replicas(grads)
        values = [v.value for v in self.variables]
        grads, finite, values = self.update(values, grads, variables)
        for v, value in zip(self.variables, values):
            v.assign(value)
        return grads, finite

    def update(self, state_values, grads, variables):
        """The pure step: `(grads, finite, new_state_values)`.

        `state_values` are the current values of `self.variables`, and
        `variables` the weights (variables or their values); nothing is
        summed across devices, so on JAX the gradients are the global
        batch's, as `jax.grad` of a sharded step returns them. On a
        non-finite step the clip rule's state is returned unchanged.
        """
        grads = list(grads)
        variables = list(variables)
        if len(grads) != len(self._var_keys):
            raise ValueError(
                f"GradientHealth was built for {len(self._var_keys)} "
                f"variables; `apply` received {len(grads)} gradients."
            )
        present = [i for i, g in enumerate(grads) if g is not None]
        if not present:
            return grads, ops.convert_to_tensor(True), list(state_values)
        flat, rule_values = state_values[0], state_values[1:]
        g_list = [grads[i] for i in present]
        seg = tuple(self._segment_ids[i] for i in present)
        sq = norms_lib.squared_norms(g_list)
        # The update waits only on these few scalar ops; the weight norms
        # and the bookkeeping below run beside it, off the critical path.
        norm = ops.sqrt(ops.sum(sq))
        finite = ops.isfinite(norm)

        old = dict(zip(self.rule_state, rule_values))
        thr, new = self.clip_rule.update(old, norm)
        # A skipped step leaves the rule's state as it was.
        new_rule = [ops.where(finite, new[k], old[k]) for k in old]

        result = list(grads)
        if not self.clip_rule.clips:
            out = g_list
        elif self.clip_mode == "layer":
            layer_norm = norms_lib.layer_norms(sq, seg, len(self.layer_names))
            out = clipping.clip_by_layer_norm(g_list, seg, thr, layer_norm)
        else:
            out = clipping.clip_by_global_norm(g_list, thr, norm)
        for i, g in zip(present, out):
            result[i] = g

        w_sq = norms_lib.squared_norms([_value(variables[i]) for i in present])
        new_flat = self._measure_fn(sq, w_sq, thr, flat, seg)
        return result, finite, [new_flat, *new_rule]

    def _measure(self, sq, w_sq, thr, flat, seg):
        """Pure: the next state from this step's squared norms and clip
        threshold. `seg` (a Python tuple) gives each present variable's
        layer."""
        f32 = "float32"
        n = len(self.layer_names)
        old = stats_lib.unpack(flat, n)
        s, L = old.scalars, old.layers
        layer_norm = norms_lib.layer_norms(sq, seg, n)
        w_norm = norms_lib.layer_norms(w_sq, seg, n)
        has = np.zeros((n,), bool)
        has[list(seg)] = True
        # Recomputed here rather than passed in: a scalar from a short
        # vector costs less inside the cluster than one more input.
        norm = ops.sqrt(ops.sum(sq))
        finite = ops.isfinite(norm)
        ratio = layer_norm / ops.maximum(w_norm, 1e-12)

        if self.clip_mode == "layer":
            clipped = ops.any(layer_norm > thr)
        else:
            clipped = norm > thr

        fin = ops.cast(finite, f32)
        safe_norm = ops.where(finite, norm, 0.0)
        ema, count = old.running
        warm = ops.logical_and(count >= self.warmup_steps, finite)
        jump = ops.where(warm, safe_norm / ops.maximum(ema, 1e-30), 0.0)
        spike = ops.logical_and(warm, jump > self.explode_factor)
        over_cap = ops.convert_to_tensor(False)
        if self.explode_norm is not None:
            over_cap = ops.logical_and(finite, norm > self.explode_norm)
        # The plain mean of the first 100 steps, then an EMA with decay
        # 0.99: an EMA started from the first, often atypical, step
        # would stay biased towards it for hundreds of steps.
        rate = 1.0 / ops.minimum(count + 1.0, 100.0)
        running = stats_lib.Running(
            ema=ops.where(finite, ema + rate * (safe_norm - ema), ema),
            count=ops.where(finite, count + 1.0, count),
        )
        scalars = stats_lib.StepStats(
            steps=s.steps + fin,
            norm_sum=s.norm_sum + safe_norm,
            norm_max=ops.maximum(s.norm_max, safe_norm),
            clipped=s.clipped + fin * ops.cast(clipped, f32),
            nonfinite=s.nonfinite + (1.0 - fin),
            spikes=s.spikes + ops.cast(ops.logical_or(spike, over_cap), f32),
            over_cap=s.over_cap + ops.cast(over_cap, f32),
            jump_max=ops.maximum(s.jump_max, jump),
        )

        layer_finite = ops.isfinite(layer_norm)
        usable = ops.logical_and(layer_finite, finite)
        ln = ops.where(usable, layer_norm, 0.0)
        # A layer whose weights are all zero (a residual branch's last
        # kernel under initialize_model's Fixup rule) has no scale to
        # measure its gradient against: its ratio counts as neither
        # vanishing nor exploding on such a step.
        scaled = ops.logical_and(usable, w_norm > 0.0)
        rt = ops.where(scaled, ratio, 0.0)
        # The fraction of the gradient that clipping lets through, so
        # that `update_sum` is the ratio of what is applied.
        if self.clip_mode == "layer":
            kept = ops.minimum(1.0, thr / ops.maximum(ln, 1e-30))
        else:
            kept = ops.minimum(1.0, thr / ops.maximum(safe_norm, 1e-30))
        roles = np.asarray(self.layer_roles, dtype=object)
        reference = has & (roles == roles_lib.MATRIX)
        compared = has & (roles != roles_lib.ZERO_ONLY)
        best = ops.max(ops.where(reference, rt, 0.0))
        slow = ops.logical_and(
            ops.logical_and(scaled, compared),
            rt < self.matrix_threshold * best,
        )
        # Weights on another scale (see `roles`) count only when no
        # gradient at all reaches them. Neither does a matrix when no
        # layer gets any gradient (a saturated output, say): the
        # reference is then zero and nothing is "below" it.
        dead = ops.logical_and(ops.logical_and(usable, has), ln == 0.0)
        low = ops.logical_or(slow, dead)
        layer_spike = ops.logical_and(
            ops.logical_and(usable, warm), ln > self.explode_factor * L.ema
        )
        layer_spike = ops.logical_and(layer_spike, spike)
        start = ops.logical_and(ops.logical_and(usable, has), s.steps == 0)
        w_start = ops.where(start, w_norm, L.weight_norm_start)
        # Against the weights at the epoch's start, as for Adam-like
        # optimizers: a rate far too high grows the weights within a
        # few steps, and against those its steps would look small.
        moved = ops.where(
            ops.logical_and(scaled, w_start > 0.0),
            ln * kept / ops.maximum(w_start, 1e-30),
            0.0,
        )
        layers = stats_lib.LayerStats(
            norm_sum=L.norm_sum + ln,
            norm_max=ops.maximum(L.norm_max, ln),
            ratio_sum=L.ratio_sum + rt,
            update_sum=L.update_sum + moved,
            low_steps=L.low_steps + ops.cast(low, f32),
            spike_steps=L.spike_steps + ops.cast(layer_spike, f32),
            nonfinite_steps=L.nonfinite_steps
            + ops.cast(ops.logical_not(layer_finite), f32),
            weight_norm=ops.where(
                ops.logical_and(usable, has), w_norm, L.weight_norm
            ),
            weight_norm_start=w_start,
            ema=ops.where(usable, L.ema + rate * (ln - L.ema), L.ema),
        )
        return stats_lib.pack(stats_lib.HealthStats(running, scalars, layers))


def can_build_here():
    """Whether `build` may run in the current context: on TensorFlow the
    per-replica state is made in a cross-replica context (or without a
    strategy), never inside one replica's step."""
    if not TENSORFLOW:
        return True
    return tf.distribute.in_cross_replica_context() or (
        not tf.distribute.has_strategy()
    )


def _value(v):
    return v.value if isinstance(v, keras.Variable) else v


def _numpy(variable):
    # On TensorFlow under a strategy, the first replica's copy.
    return ops.convert_to_numpy(variable.value)


def _make_variable(name, value):
    # Every replica computes the same state from the same summed
    # gradient and updates its own copy ("none": no cross-replica
    # aggregation, no copy per step). Made outside any `tf.function`
    # being traced, as `apply` may build lazily.
    scope = tf.init_scope() if TENSORFLOW else contextlib.nullcontext()
    with scope:
        return keras.Variable(
            value, trainable=False, name=name, aggregation="none"
        )


def _sum_across_replicas(grads):
    # ReduceOp.SUM, as Keras does: its loss is already divided by the
    # number of replicas.
    ctx = tf.distribute.get_replica_context()
    present = [i for i, g in enumerate(grads) if g is not None]
    if ctx is None or ctx.num_replicas_in_sync <= 1 or not present:
        return grads
    summed = ctx.all_reduce(
        tf.distribute.ReduceOp.SUM, [grads[i] for i in present]
    )
    grads = list(grads)
    for i, g in zip(present, summed):
        grads[i] = g
    return grads


def _key(v):
    return id(v)
