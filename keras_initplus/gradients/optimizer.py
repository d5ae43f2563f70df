"""`GradientHealthOptimizer`: apply-if-finite around a Keras optimizer.

It hands each step's gradients to a `GradientHealth` (which sums them
across replicas, measures and clips them) and then applies them with the
wrapped optimizer, or skips the step on every replica when they are not
finite. Modelled on `keras.optimizers.LossScaleOptimizer`: the health
state is the wrapper's own, made with `add_variable` in `build` and
listed after the inner optimizer's in `variables` on every backend;
`apply` updates it in place (TensorFlow's `merge_call` is sealed in
`_tf_apply`), and `stateless_apply`, JAX's functional step, carries it
with the rest of the optimizer's state.
"""

import contextlib
import inspect

import keras
import numpy as np
from keras import ops

from keras_initplus import private_api
from keras_initplus.backend_support import (
    BACKEND,
    TENSORFLOW,
    check_gradient_backend,
)
from keras_initplus.gradients import metrics as metrics_lib
from keras_initplus.gradients.health import GradientHealth, can_build_here

if TENSORFLOW:
    import tensorflow as tf


@contextlib.contextmanager
def _already_summed(optimizer):
    # Keras's TF optimizer sums gradients across replicas inside
    # `apply` (`_all_reduce_sum_gradients`). Ours are summed already;
    # summing again would multiply them by the number of replicas. The
    # override is an instance attribute, live only while the step is
    # traced, so the optimizer itself is unchanged afterwards.
    optimizer._all_reduce_sum_gradients = list
    try:
        yield
    finally:
        del optimizer._all_reduce_sum_gradients


@keras.saving.register_keras_serializable(package="keras_initplus")
class GradientHealthOptimizer(keras.optimizers.Optimizer):
    """Applies `inner_optimizer` to healthy gradients; skips the others.

    Per step: `grads, finite = health.apply(grads, variables)`; then,
    if `finite`, `inner_optimizer.apply(grads, variables)`, without a
    second cross-replica sum; otherwise nothing: the weights, the
    optimizer's slots and its `iterations` stay bit-identical. The
    decision is taken once, in a cross-replica context, so every replica
    takes the same branch.

    `GradientHealthCallback` puts it in the model's place only while the
    train function runs. In a custom training loop, build it once under
    the strategy's scope and call `apply` inside `strategy.run`.

    With `gradient_accumulation_steps` on the inner optimizer, the
    accumulated gradient is measured, clipped and checked once per
    update instead (see `_apply_accumulating`).

    Args:
        inner_optimizer: A built or unbuilt `keras.optimizers.Optimizer`
            instance (not a name such as `"adam"`) with no `clipnorm`,
            `global_clipnorm` or `clipvalue`.
        health: A `GradientHealth`, or None to build one from the
            keyword arguments below.
        name: The wrapper's name; default `"gradient_health"`.
        **health_kwargs: `GradientHealth`'s arguments (`clip_norm`,
            `clip_mode`, `vanishing_threshold`, ...), instead of
            `health`: `GradientHealthOptimizer(Adam(), clip_norm=1.0)`.
            With neither, the wrapper measures and skips non-finite
            steps without clipping.

    Keras gives an optimizer no way into `fit`'s `logs`: for the
    `grad_*` keys the callback writes, pass `metrics=opt.log_metrics()`
    to `compile` (see `log_metrics`), or compile the plain optimizer and
    pass `GradientHealthCallback`.

    Example:

    >>> with strategy.scope():
    ...     health = GradientHealth(clip_norm=1.0)
    ...     health.build(model.trainable_variables)
    ...     opt = GradientHealthOptimizer(keras.optimizers.SGD(0.1), health)
    >>> def step(x, y):  # run with strategy.run(step, ...)
    ...     with tf.GradientTape() as tape:
    ...         loss = loss_fn(y, model(x)) / strategy.num_replicas_in_sync
    ...     grads = tape.gradient(loss, model.trainable_variables)
    ...     opt.apply(grads, model.trainable_variables)
    """

    def __init__(
        self, inner_optimizer, health=None, name=None, **health_kwargs
    ):
        check_gradient_backend("GradientHealthOptimizer")
        # The type first: every later check reads optimizer attributes,
        # and on anything else would report a wrong cause.
        check_inner_optimizer(inner_optimizer)
        health = _health_from(health, health_kwargs)
        check_no_clipping(inner_optimizer)
        if TENSORFLOW:
            private_api.check_attributes(inner_optimizer, private_api.OPTIMIZER)
        elif getattr(inner_optimizer, "gradient_accumulation_steps", None):
            raise ValueError(
                "Gradient accumulation with gradient health runs on the "
                "TensorFlow backend only. Received: "
                "gradient_accumulation_steps="
                f"{inner_optimizer.gradient_accumulation_steps} on backend "
                f"{BACKEND!r}. Accumulate by a larger "
                "batch instead, or use KERAS_BACKEND=tensorflow."
            )
        super().__init__(learning_rate=0.0, name=name or "gradient_health")
        self.inner_optimizer = inner_optimizer
        self.health = health
        self._health_variables = []  # made or adopted in `build`
        # Loss scaling, if any, is the inner optimizer's business.
        self.loss_scale_factor = None

    def build(self, var_list):
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(var_list)
        if not self.health.built:
            if not can_build_here():
                raise ValueError(
                    "GradientHealthOptimizer must be built before `apply` "
                    "under a distribution strategy: call "
                    "`optimizer.build(model.trainable_variables)` inside "
                    "`strategy.scope()`."
                )
            # JAX's train step gathers `variables` before the first
            # step, so the health state must exist by then; and a loaded
            # model restores it right after this call.
            self.health.build(var_list, self._add_state_variable)
        # A `GradientHealth` built before it was passed in keeps its
        # variables: the wrapper adopts them as its state.
        self._health_variables = list(self.health.variables)
        self.built = True

    def _add_state_variable(self, name, value):
        return self.add_variable(
            shape=value.shape,
            initializer=_constant(value),
            dtype="float32",
            # Every replica computes the same state from the same summed
            # gradient and updates its own copy, as LossScaleOptimizer's
            # state does.
            aggregation="none",
            name=name,
        )

    @property
    def variables(self):
        # The inner optimizer's, then the health state: the state a
        # functional step carries, in the order `stateless_apply` takes.
        return self.inner_optimizer.variables + self._health_variables

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    def log_metrics(self):
        """Keras metrics that write the `grad_*` keys into `fit`'s logs.

        `model.compile(opt, loss, metrics=opt.log_metrics())` (beside
        other metrics: `metrics=["mae", *opt.log_metrics()]`) gives
        `history.history` the keys `GradientHealthCallback` writes, with
        its epoch values: `grad_norm` (the mean pre-clip global norm of
        the epoch's applied steps), `grad_norm_max`, `grad_clipped` (the
        fraction of them clipped) and `grad_nonfinite` (steps skipped).
        Keras resets them, and so this wrapper's window
        (`health.reset_epoch()`), at each epoch's start and when
        `evaluate` starts, fit's validation included, where they are
        NaN. Per batch they are NaN on JAX. A multi-output model names
        them by output (`metrics={"out": ...}` gives `out_grad_norm`).
        Returns four new `GradientHealthMetric`s.
        """
        return metrics_lib.log_metrics(self)

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self.inner_optimizer._trainable_variables
        variables = list(trainable_variables)
        grads = list(grads)
        if not self.built:
            self.build(variables)
        if TENSORFLOW:
            self._tf_apply(grads, variables)
            return
        # PyTorch, and JAX outside a traced step: the branch is taken on
        # the host, as `ops.cond` does on PyTorch.
        grads, finite = self.health.apply(grads, variables)
        if bool(ops.convert_to_numpy(finite)):
            self.inner_optimizer.apply(grads, variables)

    def _tf_apply(self, grads, variables):
        """TensorFlow: sum across replicas, then apply or skip on every
        replica, with or without `merge_call`."""
        if tf.distribute.in_cross_replica_context() and (
            tf.distribute.has_strategy()
        ):
            raise ValueError("apply() must be called in a replica context.")
        inner = self.inner_optimizer
        if getattr(inner, "gradient_accumulation_steps", None):
            _apply_accumulating(inner, self.health, grads, variables)
            return
        grads, finite = self.health.apply(grads, variables)

        if tf.__internal__.distribute.strategy_supports_no_merge_call():
            with _already_summed(inner):
                ops.cond(finite, lambda: inner.apply(grads, variables), _noop)
            return

        def cross_replica(distribution, grads, variables, finite):
            # Every replica computed `finite` from the same summed
            # gradient; any replica's copy is the common answer.
            finite = distribution.experimental_local_results(finite)[0]

            def apply_fn():
                distribution.extended.call_for_each_replica(
                    inner.apply, args=(grads, variables)
                )

            # The cond must be taken in the cross-replica context: a cond
            # in a replica context cannot hold a branch that calls
            # merge_call, and the inner `apply` does.
            with _already_summed(inner):
                ops.cond(finite, apply_fn, _noop)

        tf.distribute.get_replica_context().merge_call(
            cross_replica, args=(grads, variables, finite)
        )

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """JAX's step: `(new_weights, new_optimizer_variables)`.

        `optimizer_variables` follow `variables`: the inner optimizer's,
        then the health state's. On a non-finite step the weights and
        the inner optimizer's values come back unchanged; the health
        state records the skip.
        """
        if TENSORFLOW:
            raise ValueError(
                "`GradientHealthOptimizer.stateless_apply` is the step of "
                "JAX (and PyTorch); on TensorFlow the gradients are summed "
                "across replicas first: call `apply`."
            )
        if not self.built:
            raise ValueError(
                "GradientHealthOptimizer must be built before "
                "`stateless_apply`: call `optimizer.build(variables)`."
            )
        n = len(self.inner_optimizer.variables)
        if len(optimizer_variables) != len(self.variables):
            raise ValueError(
                "Argument `optimizer_variables` must match "
                f"`GradientHealthOptimizer.variables` ({len(self.variables)} "
                f"values). Received: {len(optimizer_variables)} values."
            )
        # LossScaleOptimizer passes variables under a StatelessScope;
        # converting reads the scope's values, as lax.cond needs arrays.
        inner = [ops.convert_to_tensor(v) for v in optimizer_variables[:n]]
        health = [ops.convert_to_tensor(v) for v in optimizer_variables[n:]]
        weights = [ops.convert_to_tensor(v) for v in trainable_variables]
        grads, finite, health = self.health.update(health, grads, weights)

        def update():
            return self.inner_optimizer.stateless_apply(inner, grads, weights)

        def skip():
            return weights, inner

        new_weights, new_inner = ops.cond(finite, update, skip)
        return list(new_weights), list(new_inner) + list(health)

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        self.apply(grads, variables)
        return self.iterations

    def get_config(self):
        # Not `super().get_config()`: the learning rate and the rest are
        # the inner optimizer's. `GradientHealthCallback`'s own wrapper
        # is never the model's optimizer outside its train step, so a
        # model saved during `fit` records the user's optimizer.
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(
                self.inner_optimizer
            ),
            "health": keras.saving.serialize_keras_object(self.health),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        health = keras.saving.deserialize_keras_object(
            config.pop("health"), custom_objects=custom_objects
        )
        return cls(inner, health, **config)

    def save_own_variables(self, store):
        # The inner optimizer's slots under its own keys, as it saves
        # them alone; the health state apart, under keys of its own, as
        # files of earlier versions (where the state was not among
        # `variables` on TensorFlow) have it.
        self.inner_optimizer.save_own_variables(store)
        if self.health.built:
            for i, value in enumerate(self.health.state_values()):
                store[f"health_{i}"] = value

    def load_own_variables(self, store):
        keys = list(store.keys())
        self.inner_optimizer.load_own_variables(
            {k: store[k] for k in keys if not k.startswith("health_")}
        )
        saved = []
        while f"health_{len(saved)}" in keys:
            saved.append(store[f"health_{len(saved)}"])
        if saved and self.health.built:
            self.health.load_state_values(saved)


def _noop():
    return None


def _constant(value):
    def initializer(shape, dtype=None):
        return np.asarray(value, dtype or "float32").reshape(shape)

    return initializer


def _apply_accumulating(inner, health, grads, variables):
    """Gradient accumulation: measure and clip the accumulated gradient.

    Keras accumulates `k` micro-batches' local gradients and, on every
    k-th call of `apply`, averages them, clips (`_clip_gradients`),
    decays the weights and takes the update step, which sums across
    replicas. For the duration of this trace those three steps are
    replaced: the average is summed across replicas, measured and
    clipped by `health`, and the decay and update run only if it is
    finite. Micro-batches in between are only accumulated, as Keras
    does, and are not measured.
    """
    position = {id(v): i for i, v in enumerate(variables)}
    update_step = inner._backend_update_step
    weight_decay = inner._apply_weight_decay

    def measured_update(window_grads, window_vars, learning_rate):
        full = [None] * len(variables)
        for g, v in zip(window_grads, window_vars):
            full[position[id(v)]] = g
        clipped, finite = health.apply(full, variables)
        clipped = [clipped[position[id(v)]] for v in window_vars]

        def step():
            weight_decay(window_vars)
            with _already_summed(inner):
                update_step(clipped, window_vars, learning_rate)

        ops.cond(finite, step, _noop)

    inner._clip_gradients = list
    inner._apply_weight_decay = _noop_decay
    inner._backend_update_step = measured_update
    try:
        inner.apply(grads, variables)
    finally:
        del inner._clip_gradients
        del inner._apply_weight_decay
        del inner._backend_update_step


def _noop_decay(variables):
    return None


def check_inner_optimizer(optimizer):
    """Raises unless `optimizer` is an optimizer the wrapper can apply."""
    if isinstance(optimizer, GradientHealthOptimizer):
        # The inner wrapper would sum across replicas a second time.
        raise ValueError(
            "Argument `inner_optimizer` must not be a "
            "GradientHealthOptimizer itself: gradients would be measured "
            "and clipped twice, and under tf.distribute summed twice. "
            f"Wrap its `inner_optimizer` instead. Received: "
            f"inner_optimizer={optimizer!r}"
        )
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return
    hint = ""
    if isinstance(optimizer, str):
        hint = f" (from a name: `keras.optimizers.get({optimizer!r})`)"
    raise ValueError(
        "Argument `inner_optimizer` must be a `keras.optimizers.Optimizer` "
        f"instance, such as `keras.optimizers.Adam()`{hint}. "
        f"Received: inner_optimizer={optimizer!r}"
    )


_HEALTH_ARGS = tuple(inspect.signature(GradientHealth).parameters)


def _health_from(health, health_kwargs):
    """The `GradientHealth` to use: `health`, or one built from
    `health_kwargs`; raises on anything else or on both."""
    unknown = sorted(set(health_kwargs) - set(_HEALTH_ARGS))
    if unknown:
        raise TypeError(
            "GradientHealthOptimizer got unexpected keyword arguments "
            f"{unknown}. Besides `health` and `name` it takes "
            f"GradientHealth's: {', '.join(_HEALTH_ARGS)}."
        )
    if health is None:
        return GradientHealth(**health_kwargs)
    if not isinstance(health, GradientHealth):
        raise ValueError(_bad_health_message(health))
    if health_kwargs:
        given = ", ".join(f"{k}={v!r}" for k, v in health_kwargs.items())
        raise ValueError(
            "Pass either `health` or GradientHealth's arguments as "
            f"keywords, not both. Received: health={health!r} and {given}"
        )
    return health


def _bad_health_message(health):
    hint = ""
    # A threshold in `health`'s place is most likely meant as
    # `clip_norm`, the first argument of GradientHealth.
    if isinstance(health, (int, float, str)) and not isinstance(health, bool):
        hint = (
            " To set the threshold here, pass it by keyword: "
            f"GradientHealthOptimizer(optimizer, clip_norm={health!r})."
        )
    return (
        "Argument `health` must be a `GradientHealth` instance, or None "
        f"with GradientHealth's arguments as keywords.{hint} "
        f"Received: health={health!r}"
    )


def check_no_clipping(optimizer):
    """Raises if the optimizer clips: it would clip per replica, before
    the cross-replica sum, and a second time after ours."""
    for arg in ("clipnorm", "global_clipnorm", "clipvalue"):
        value = getattr(optimizer, arg, None)
        if value is not None:
            raise ValueError(
                f"The optimizer already clips gradients ({arg}={value}). "
                "GradientHealthCallback clips the aggregated gradient "
                "itself, and Keras's clipping acts on each replica's "
                "local gradient before the cross-replica sum, so the two "
                "would clip twice with different results. Remove "
                f"`{arg}` from the optimizer and pass `clip_norm=` to the "
                "callback (`clip_norm=None` monitors without clipping)."
            )
