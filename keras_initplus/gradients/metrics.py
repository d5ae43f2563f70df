"""Keras metrics that put a `GradientHealthOptimizer`'s statistics in
`fit`'s logs.

Keras gives an optimizer no way into `fit`'s logs. The epoch's logs are
`Model.get_metrics_result()`, the results of `model.metrics` (the loss
tracker, the metrics passed to `compile`, and `Metric`s set as
attributes of the model or its layers), to which callbacks add keys.
The optimizer is told nothing of the model (`build(var_list)`,
`apply(grads, variables)`, on JAX `stateless_apply`), and `compile`
stores it as a plain attribute, tracked only if it were a variable, a
layer or a metric. So the keys come from metrics the user passes:

>>> opt = GradientHealthOptimizer(keras.optimizers.Adam(), clip_norm=1.0)
>>> model.compile(opt, "mse", metrics=opt.log_metrics())

The metrics hold no state of their own. Their `result()` reads the
optimizer's health state, which its step updates, and their
`reset_state()`, which Keras calls at each epoch's start (and at the
start of `evaluate`), starts a new window of statistics
(`GradientHealth.reset_epoch`). On JAX, `fit` carries the optimizer's
state through the step apart from the metrics' and detaches it from
the variables until the epoch's end: per batch the metrics return NaN,
and the epoch's values are read once the state is written back.
"""

import math

import keras
from keras import ops

from keras_initplus.backend_support import BACKEND, TENSORFLOW
from keras_initplus.gradients import stats as stats_lib

if TENSORFLOW:
    import tensorflow as tf

# The keys `GradientHealthCallback` writes (`EpochSummary.logs()`).
KEYS = ("grad_norm", "grad_norm_max", "grad_clipped", "grad_nonfinite")


@keras.saving.register_keras_serializable(package="keras_initplus")
class GradientHealthMetric(keras.metrics.Metric):
    """One of the epoch's gradient statistics of a `GradientHealth`, as
    a Keras metric named by its `fit` logs key.

    Made by `GradientHealthOptimizer.log_metrics()`; pass the four to
    `compile(metrics=...)`. The values are those of the callback's
    `logs`: over the steps since the last reset, `grad_norm` is the mean
    pre-clip global norm of the applied steps, `grad_norm_max` their
    largest, `grad_clipped` the fraction of them clipped and
    `grad_nonfinite` the number of steps skipped. With no step at all
    since the reset (in `evaluate`), each is NaN.

    Args:
        optimizer: The compiled `GradientHealthOptimizer`.
        name: One of `"grad_norm"`, `"grad_norm_max"`, `"grad_clipped"`,
            `"grad_nonfinite"`.
        dtype: The result's dtype; default float32.
    """

    def __init__(self, optimizer, name="grad_norm", dtype=None):
        from keras_initplus.gradients.optimizer import (
            GradientHealthOptimizer,
        )

        if not isinstance(optimizer, GradientHealthOptimizer):
            raise ValueError(
                "Argument `optimizer` must be the compiled "
                "GradientHealthOptimizer; make these metrics with "
                "`optimizer.log_metrics()`. "
                f"Received: optimizer={optimizer!r}"
            )
        if name not in KEYS:
            raise ValueError(
                f"Argument `name` must be one of {', '.join(KEYS)}. "
                f"Received: name={name!r}"
            )
        super().__init__(name=name, dtype=dtype)
        # Held through a plain object: Keras's saving walks a metric's
        # attributes, and the optimizer is saved as the model's own.
        self._link = _Link(optimizer)
        self._warned = False
        self._reset_seen = False

    @property
    def optimizer(self):
        return self._link.optimizer

    @property
    def health(self):
        return self._link.optimizer.health

    def update_state(self, *args, **kwargs):
        # The optimizer's step updates the statistics; `compile`'s
        # metrics are also handed the targets and predictions, unused.
        del args, kwargs
        if (
            TENSORFLOW
            and not self._reset_seen
            and self.health.built
            and tf.inside_function()
        ):
            self._first_reset()

    def _first_reset(self):
        # Without a strategy, TensorFlow's `fit` builds `compile`'s
        # metrics while it traces the first step, after its reset at the
        # epoch's start skipped them: the window would still hold the
        # steps before (a loaded model's saved ones, or an earlier
        # `fit`'s). Reset it now, eagerly, once: the step being traced
        # has not run. A state made in this very trace is not yet
        # initialized, and starts empty anyway. (`run_eagerly=True` has
        # no such moment: there the first epoch keeps those steps.)
        with tf.init_scope():
            state = self.health.state.value
            if bool(tf.compat.v1.is_variable_initialized(state)):
                self._reset_seen = True
                self.health.reset_epoch()

    def reset_state(self):
        self._reset_seen = True
        if self.health.built:
            self.health.reset_epoch()
        elif not self._warned:
            # Keras builds the compiled optimizer before it first resets
            # the metrics: this one is not the model's.
            self._warned = True
            _warn_unbound(self.name)

    def result(self):
        health = self.health
        if not health.built or _in_jax_step(health):
            return ops.full((), math.nan, self.dtype)
        s = stats_lib.unpack(health.state.value, len(health.layer_names))
        s = s.scalars
        steps = s.steps
        applied = steps > 0.0
        div = ops.maximum(steps, 1.0)
        nan = ops.full((), math.nan, "float32")
        value = {
            "grad_norm": ops.where(applied, s.norm_sum / div, nan),
            "grad_norm_max": s.norm_max,
            "grad_clipped": ops.where(applied, s.clipped / div, 0.0),
            "grad_nonfinite": s.nonfinite,
        }[self.name]
        # No step since the reset: nothing was measured (`evaluate`).
        empty = steps + s.nonfinite <= 0.0
        return ops.cast(ops.where(empty, nan, value), self.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            # Saved with the model, this is the model's optimizer, and
            # `load_model` (which shares an object seen twice in one
            # file) gives back that one object.
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(
            config.pop("optimizer")
        )
        return cls(optimizer, **config)


class _Link:
    def __init__(self, optimizer):
        self.optimizer = optimizer


def log_metrics(optimizer):
    """The four `GradientHealthMetric`s of `optimizer`, in `KEYS`
    order."""
    return [GradientHealthMetric(optimizer, name) for name in KEYS]


def _in_jax_step(health):
    """Whether this is JAX's train step, where the optimizer's state is
    out of reach: `fit` carries it as the step's input and output, and
    detaches it from the variables until the epoch's end. A read would
    fail, or under `jit` capture the value it had when traced."""
    if BACKEND != "jax":
        return False
    import jax

    if health.state._value is None:
        return True  # detached by `fit` (`_purge_model_variables`)
    # Every op on a tracer's trace returns a tracer.
    return isinstance(ops.zeros(()), jax.core.Tracer)


def _warn_unbound(name):
    import warnings

    warnings.warn(
        f"The `{name}` metric belongs to a GradientHealthOptimizer that "
        "was never built, so not to the model's compiled optimizer, and "
        "it reports NaN. Pass the compiled optimizer's own metrics: "
        "`model.compile(optimizer=opt, ..., metrics=opt.log_metrics())`.",
        UserWarning,
        stacklevel=3,
    )
