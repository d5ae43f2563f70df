"""`GradientHealthCallback`: installs `GradientHealth` into `model.fit`."""

import contextlib
import inspect
import logging
import math
import os
import time
import warnings

import keras

from keras_initplus import backend_support
from keras_initplus.backend_support import (
    BACKEND,
    TENSORFLOW,
    check_gradient_backend,
)
from keras_initplus.gradients import alerts as alerts_lib
from keras_initplus.gradients.health import GradientHealth
from keras_initplus.gradients.optimizer import (
    GradientHealthOptimizer,
    check_no_clipping,
)

logger = logging.getLogger("keras_initplus.gradients")

_LSO = keras.optimizers.LossScaleOptimizer
if TENSORFLOW:
    import tensorflow as tf

    # The end of a dataset, which `fit` handles; not a failed step.
    _END_OF_DATA = (StopIteration, tf.errors.OutOfRangeError)
else:
    _END_OF_DATA = (StopIteration,)


# `GradientHealth`'s settings and their defaults: settings given to the
# callback conflict with those of a compiled `GradientHealthOptimizer`.
_HEALTH_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(GradientHealth).parameters.items()
}
_INSTALLED = "installed"
_READING = "reading"


class GradientHealthCallback(keras.callbacks.Callback):
    """Monitors gradients in the graph during `fit` and clips them by L2
    norm, correctly under `tf.distribute`, XLA and `steps_per_execution`.

    With a model compiled with a `GradientHealthOptimizer` (Keras's
    shape: the optimizer owns the step and its state), the callback only
    reads: it writes the wrapper's statistics into `logs`, the table,
    the warnings and TensorBoard, and changes nothing in `fit`. Give the
    settings (`clip_norm`, ...) to the wrapper then, not the callback.

    With a plain optimizer, at `on_train_begin` it rebuilds the train
    function so that the step is traced with a `GradientHealthOptimizer`
    around the model's optimizer (for a `LossScaleOptimizer`, around its
    inner optimizer, so gradients are measured and clipped after
    unscaling). The wrapper stands in for the user's optimizer only while
    the train function runs; everywhere else, including checkpoints
    written during `fit`,
    `model.optimizer` is the user's own. At `on_train_end`, or as soon as
    a step raises, the model's train function is dropped, so a later
    `fit` without the callback runs the user's own step. The callback
    keeps its trace: a later `fit` with the same callback, model,
    optimizer and compile settings reuses it instead of tracing again.

    Each step, on the device: the global L2 norm `||g||` of the gradient
    summed across replicas, before clipping; each layer's norm `||g_l||`
    and ratio `||g_l|| / ||w_l||`; whether the step was clipped; whether
    it was skipped because a gradient on some replica was NaN or Inf.
    Statistics are read once per epoch. At each epoch end `logs` gets
    `grad_norm` (mean pre-clip global norm over the epoch's applied
    steps), `grad_norm_max`, `grad_clipped` (fraction of steps clipped)
    and `grad_nonfinite` (steps skipped). Place the callback before
    `CSVLogger`/`TensorBoard` in `callbacks=` so they see these keys
    (`History` always does). `callback.table` holds per-layer statistics
    per epoch; `callback.table_dict()` returns them as columns.

    Clipping, with `clip_norm=c`: `g <- g * min(1, c / ||g||)` on the
    aggregated gradient, as `tf.clip_by_global_norm`, the same update as
    one device given the same global batch; `clip_mode="layer"` clips
    each layer's gradient to `c`. `clip_norm="autoclip"` or `"zclip"`
    (or an `AutoClip`/`ZClip` instance) learns the threshold from the
    run's history. An optimizer with `clipnorm`, `global_clipnorm` or
    `clipvalue` is refused: Keras clips each replica's local gradient,
    and clipping twice would go unnoticed.

    With `gradient_accumulation_steps=k`, the accumulated gradient (the
    mean over the k micro-batches, summed across replicas) is what is
    measured, clipped and checked, once per update: the same as one
    step on the k-times larger batch. A non-finite window is skipped
    whole; the micro-batches in between are accumulated, as Keras does,
    and not measured. With mixed precision the unscaled gradients are
    measured; steps the `LossScaleOptimizer` itself skips for overflow
    are its normal operation and are not counted in `grad_nonfinite`.

    Args:
        clip_norm: None (monitor only, default), a positive float,
            `"autoclip"`, `"zclip"`, or an `AutoClip`/`ZClip`.
        clip_mode: `"global"` (default) or `"layer"`.
        stop_on_nonfinite: If True, training stops at the first
            non-finite step (still skipped), and an error naming the
            layers is logged. This reads the statistics at each batch
            end.
        vanishing_threshold, vanishing_fraction, explode_ratio,
        explode_update, explode_factor, explode_norm, warmup_steps:
            Detection settings; see `GradientHealth`.
        log_dir: None or a directory; per-layer scalars are written
            there for TensorBoard at each epoch end.
        warn_interval: Seconds; the same warning (same kind, measure and
            first layer named) is repeated at most this often. Default
            300.

    Warnings are judged at each epoch end from that epoch's steps, so a
    network broken at initialization is named after its first epoch,
    however short. One kind reads the run's history instead: a
    "collapse" is named when a run that was learning turns unstable, its
    training loss (from `logs`) far above its best so far after falling
    to half its first epoch's, or its validation accuracy more than 0.2
    below its best (see `alerts.find_collapse`), with the layers whose
    gradient-to-weight ratio rose most. The history starts over at each
    `fit`, as EarlyStopping's does. Each warning is one line on the
    `keras_initplus.gradients` logger: the kind, the first three layers
    and "and N more", the measured value and its threshold, and what to
    try. Every warning, logged or rate-limited, is also kept in
    `callback.warnings`, once per `fit`, as a dict (`epoch`, the first
    epoch it was found at, and `epochs`, all of them; `kind`, `measure`,
    `layers`, `value`, `threshold` and `message` as first found;
    `logged`).

    Example:

    >>> history = model.fit(
    ...     x, y, epochs=5, callbacks=[GradientHealthCallback(clip_norm=1.0)]
    ... )
    >>> history.history["grad_norm"]

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
        stop_on_nonfinite=False,
        vanishing_threshold=5e-3,
        vanishing_fraction=0.5,
        explode_ratio=1e3,
        explode_update=1.0,
        explode_factor=100.0,
        explode_norm=None,
        warmup_steps=25,
        log_dir=None,
        warn_interval=300.0,
    ):
        check_gradient_backend("GradientHealthCallback")
        super().__init__()
        self._health_kwargs = dict(
            clip_norm=clip_norm,
            clip_mode=clip_mode,
            vanishing_threshold=vanishing_threshold,
            vanishing_fraction=vanishing_fraction,
            explode_ratio=explode_ratio,
            explode_update=explode_update,
            explode_factor=explode_factor,
            explode_norm=explode_norm,
            warmup_steps=warmup_steps,
        )
        # Built now so that bad arguments fail before `fit` starts.
        self.health = GradientHealth(**self._health_kwargs)
        self._own_health = self.health
        if not isinstance(stop_on_nonfinite, bool):
            raise ValueError(
                "Argument `stop_on_nonfinite` must be True or False. "
                f"Received: stop_on_nonfinite={stop_on_nonfinite!r}"
            )
        self.stop_on_nonfinite = stop_on_nonfinite
        # Keras runs batch-end hooks on a worker thread, without waiting
        # for the step's results, unless some callback overrides them and
        # is not marked async-safe. Ours only reads anything with
        # `stop_on_nonfinite`, which must see each step before the next.
        self.async_safe = not stop_on_nonfinite
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise ValueError(
                "Argument `log_dir` must be a path or None. "
                f"Received: log_dir={log_dir!r}"
            )
        if log_dir is not None and not backend_support.tensorflow_installed():
            raise ValueError(
                "Argument `log_dir` writes TensorBoard event files with "
                "TensorFlow, which is not installed. Received: "
                f"log_dir={log_dir!r}. Install tensorflow-cpu, or pass "
                "log_dir=None and read `callback.table`."
            )
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        if (
            isinstance(warn_interval, bool)
            or not isinstance(warn_interval, (int, float))
            or not 0 <= warn_interval < math.inf
        ):
            raise ValueError(
                "Argument `warn_interval` must be a finite float >= 0. "
                f"Received: warn_interval={warn_interval!r}"
            )
        self.warn_interval = float(warn_interval)
        self.table = []
        self.warnings = []
        self.nonfinite_layers = []
        self._installed = None
        self._epoch = None
        self._pending = None
        self._cached = None
        self._token = None
        self._last_warning = {}
        self._writer = None
        self._epochs_seen = 0
        # One `alerts.EpochRecord` per epoch, for the collapse rule.
        self._history = []
        self._this_fit = {}

    # -- installing and restoring -------------------------------------

    def on_train_begin(self, logs=None):
        model = self.model
        self._restore()
        if not model.trainable_variables:
            self._stand_aside(model)
            return
        user_opt = model.optimizer
        target = (
            user_opt.inner_optimizer
            if isinstance(user_opt, _LSO)
            else (user_opt)
        )
        if isinstance(target, GradientHealthOptimizer):
            self._read_compiled(model, target)
        else:
            check_no_clipping(target)
            self._install(model, user_opt, target)
        # Each `fit` is judged on its own, as Keras's EarlyStopping does.
        self._history = []
        self._this_fit = {}
        self.health.reset_epoch()

    def _read_compiled(self, model, wrapper):
        # The compiled wrapper measures, clips and skips in the user's
        # own step; the callback reads its state and touches nothing.
        given = {
            k: v
            for k, v in self._health_kwargs.items()
            if not _is_default(v, _HEALTH_DEFAULTS[k])
        }
        if given:
            settings = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ValueError(
                "The model's optimizer is a GradientHealthOptimizer, which "
                f"measures and clips with its own settings ({wrapper.health!r})"
                "; GradientHealthCallback then only reads its statistics "
                "and takes no settings of its own. Pass them to the "
                "wrapper and use `GradientHealthCallback()`, or compile "
                "the plain optimizer (`optimizer.inner_optimizer`) and "
                f"keep them on the callback. Received: {settings}"
            )
        if not wrapper.built:
            with _strategy_scope(model):
                wrapper.build(model.trainable_variables)
        self.health = wrapper.health
        # Roles from the model's layers (attention scores, depthwise
        # kernels, normalization), which the wrapper alone cannot see.
        self.health.read_model(model)
        self._target = wrapper.inner_optimizer
        self._installed = _READING

    def _install(self, model, user_opt, target):
        self._target = target
        self._installed = _INSTALLED
        self.health = self._own_health
        self._token = getattr(model, "history", None)
        key = _trace_key(model, target)
        if self._cached is not None and _same(self._cached[0], key):
            # Nothing the traced step depends on has changed since this
            # callback's last `fit`: reuse that trace, as Keras reuses
            # its own train function, so `fit` in a loop traces once.
            model.train_function = self._cached[1]
        else:
            variables = list(model.trainable_variables)
            if not self.health.matches(variables):
                # Other variables: a new state, which the wrapper makes.
                self.health = GradientHealth(**self._health_kwargs)
                self._own_health = self.health
                self.health.read_model(model)
            with _strategy_scope(model):
                # A health state built at an earlier `fit` is adopted by
                # the new wrapper, so its running means carry over.
                wrapper = GradientHealthOptimizer(target, self.health)
                wrapper.build(variables)
            if target is user_opt:
                self._slot = (model, "optimizer", user_opt, wrapper)
            else:
                self._slot = (user_opt, "inner_optimizer", target, wrapper)
            if BACKEND == "jax":
                self._make_jax_train_function(model)
            else:
                model.make_train_function(force=True)
            guarded = self._guard(model.train_function)
            self._cached = (key, guarded)
            model.train_function = guarded

    def _stand_aside(self, model):
        # No gradients to measure: this `fit` runs as it would without
        # the callback, which then adds no `logs` keys.
        warnings.warn(
            f"GradientHealthCallback: model {model.name!r} has no "
            "trainable weights: there is nothing to monitor or clip, so "
            "this `fit` runs without gradient health.",
            UserWarning,
            stacklevel=2,
        )
        if model.train_function is None:
            # `_restore` dropped a train function a `fit` that never
            # finished left behind; Keras made it before this hook.
            model.make_train_function()

    def _make_jax_train_function(self, model):
        # JAX caches a trace by the function it compiles, and
        # `model.train_step` is the same bound method for every fit: a
        # new callback (another clip_norm, another health state) would
        # run the old callback's trace. A fresh function each time
        # gives each installed wrapper its own.
        step = model.train_step
        own = vars(model).get("train_step")

        def train_step(state, data):
            return step(state, data)

        object.__setattr__(model, "train_step", train_step)
        try:
            # JAX fixes the step's output shardings here, from the
            # optimizer's variables, which must include ours.
            with self._swapped():
                model.make_train_function(force=True)
        finally:
            if own is None:
                object.__delattr__(model, "train_step")
            else:
                object.__setattr__(model, "train_step", own)

    @contextlib.contextmanager
    def _swapped(self):
        # The wrapper is the optimizer only while the step runs (and is
        # traced): whatever else happens during `fit`, including a
        # checkpoint or a callback that raises, sees the user's
        # optimizer. `object.__setattr__` keeps the swap out of Keras's
        # and TensorFlow's attribute tracking.
        owner, attr, user, wrapper = self._slot
        object.__setattr__(owner, attr, wrapper)
        try:
            yield
        finally:
            object.__setattr__(owner, attr, user)

    def _guard(self, train_function):
        # `self._model`, not `self.model`: on JAX the property syncs the
        # model's variables from the last step's state, which the step
        # about to run is handed and donates.
        def guarded(*args):
            if self._installed is None or (
                getattr(self._model, "history", None) is not self._token
            ):
                # A later `fit` that does not use this callback reached
                # a train function left by a `fit` that never finished.
                self._restore()
                self._model.make_train_function(force=True)
                return self._model.train_function(*args)
            if BACKEND == "jax":
                args = (self._with_health_state(args[0]), *args[1:])
            try:
                with self._swapped():
                    out = train_function(*args)
            except _END_OF_DATA:
                raise
            except BaseException:
                self._cached = None
                self._restore()
                raise
            if BACKEND == "jax":
                logs, state = out
                out = (logs, self._without_health_state(state))
            return out

        return guarded

    def _with_health_state(self, state):
        # JAX's `fit` carries the user's optimizer variables from step to
        # step; the traced step, run with the wrapper, takes the health
        # state after them (`GradientHealthOptimizer.variables`).
        trainable, non_trainable, optimizer, metrics = state
        health = [v.value for v in self.health.variables]
        return (trainable, non_trainable, [*optimizer, *health], metrics)

    def _without_health_state(self, state):
        trainable, non_trainable, optimizer, metrics = state
        n = len(optimizer) - len(self.health.variables)
        # Kept in the health variables at once (no copy: JAX assigns by
        # reference), so `read` sees every step, as on the other
        # backends.
        for v, value in zip(self.health.variables, optimizer[n:]):
            v.assign(value)
        return (trainable, non_trainable, list(optimizer[:n]), metrics)

    def _restore(self):
        installed, self._installed = self._installed, None
        if installed == _INSTALLED:
            self._model.train_function = None

    def on_train_end(self, logs=None):
        self._restore()
        if self._writer is not None:
            self._writer.flush()

    # -- reading statistics ---------------------------------------------

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._pending = None
        if self._installed is not None:
            self.health.reset_epoch()

    def on_test_begin(self, logs=None):
        # `fit`'s validation resets the compiled metrics next, and with
        # them a `GradientHealthOptimizer`'s window when its
        # `log_metrics()` are among them: the epoch's training steps are
        # read now, before that.
        if self._installed is not None and self._epoch is not None:
            if self._pending is None:
                self._pending = self.health.summary(self._epoch, self._target)

    def on_train_batch_end(self, batch, logs=None):
        if not self.stop_on_nonfinite or self._installed is None:
            return
        # On JAX this writes the step's state back into the variables.
        model = self.model
        stats = self.health.stats()
        if stats.scalars.nonfinite > 0:
            bad = stats.layers.nonfinite_steps > 0
            names = [n for n, b in zip(self.health.layer_names, bad) if b]
            self.nonfinite_layers = names
            logger.error(
                "Non-finite gradients in layers %s; the step was skipped "
                "and training is stopped (stop_on_nonfinite=True).",
                ", ".join(names) or "(none identified)",
            )
            model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self._installed is None:
            return
        # Read once: the logs, the table, the warnings and TensorBoard
        # all take their numbers from this one summary.
        summary = self._pending
        if summary is None or summary.epoch != epoch:
            summary = self.health.summary(epoch, self._target)
        self._pending = None
        if logs is not None:
            logs.update(summary.logs())
        self.table.extend(summary.rows())
        self._history.append(
            alerts_lib.EpochRecord(
                epoch=epoch,
                loss=_number(logs, "loss"),
                val_accuracy=_val_accuracy(logs),
                grad_norm=summary.grad_norm,
                ratio=summary.ratio,
                update=summary.update,
            )
        )
        self._warn(summary)
        if self.log_dir is not None:
            self._write(summary)

    def _warn(self, summary):
        found = alerts_lib.find_alerts(summary, self.health)
        collapse = alerts_lib.find_collapse(
            self._history,
            self.health.layer_names,
            clipped=self.health.clip_rule.clips,
        )
        if collapse is not None:
            found.append(collapse)
        for alert in found:
            if alert.kind == "nonfinite":
                self.nonfinite_layers = list(alert.layers)
            logged = self._rate_limited(alert)
            seen = self._this_fit.get(alert.key)
            if seen is not None:
                # The same warning again: one entry, with its epochs.
                seen["epochs"].append(summary.epoch)
                continue
            entry = dict(
                epoch=summary.epoch,
                epochs=[summary.epoch],
                **alert.as_dict(),
                logged=logged,
            )
            self._this_fit[alert.key] = entry
            self.warnings.append(entry)

    def _rate_limited(self, alert):
        now = time.monotonic()
        last = self._last_warning.get(alert.key)
        if last is not None and now - last < self.warn_interval:
            return False
        self._last_warning[alert.key] = now
        logger.warning("%s", alert.message())
        return True

    def _write(self, summary):
        # TensorFlow writes the event files on every backend.
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default(step=summary.epoch):
            for k, v in summary.logs().items():
                _scalar(k, v)
            for name, norm, ratio in zip(
                summary.layers, summary.layer_norm, summary.ratio
            ):
                _scalar(f"grad_norm/{name}", float(norm))
                _scalar(f"grad_weight_ratio/{name}", float(ratio))

    def table_dict(self):
        """The per-layer table as a dict of equal-length lists, ready for
        `pandas.DataFrame(callback.table_dict())`."""
        keys = list(self.table[0]) if self.table else []
        return {k: [row[k] for row in self.table] for k in keys}


def _number(logs, key):
    try:
        return float((logs or {})[key])
    except (KeyError, TypeError, ValueError):
        return math.nan


def _val_accuracy(logs):
    """The validation accuracy in `logs` (`val_accuracy`, `val_acc`, or
    the first `val_*accuracy` key, such as
    `val_sparse_categorical_accuracy`), or None without one."""
    logs = logs or {}
    keys = [k for k in ("val_accuracy", "val_acc") if k in logs]
    keys += sorted(
        k for k in logs if k.startswith("val_") and k.endswith("accuracy")
    )
    for key in keys:
        value = _number(logs, key)
        if math.isfinite(value):
            return value
    return None


def _scalar(tag, value):
    # What `tf.summary.scalar` writes, without needing the TensorBoard
    # package installed (tensorflow-cpu does not pull it in): the
    # "scalars" plugin tag is what TensorBoard reads the value by.
    import tensorflow as tf

    metadata = tf.compat.v1.SummaryMetadata(
        plugin_data=tf.compat.v1.SummaryMetadata.PluginData(
            plugin_name="scalars"
        )
    )
    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)


def _is_default(value, default):
    return value is default or (
        not isinstance(value, bool) and value == default
    )


def _strategy_scope(model):
    if TENSORFLOW:
        return model.distribute_strategy.scope()
    return contextlib.nullcontext()


def _distribution(model):
    if TENSORFLOW:
        return model.distribute_strategy
    if BACKEND == "jax":
        return keras.distribution.distribution()
    return None


def _trace_key(model, optimizer):
    """What the traced step depends on: if all of it is the same object
    (or value) at the next `fit`, the trace can be reused. `metrics`
    are new objects after every `compile`."""
    return (
        model.optimizer,
        optimizer,
        tuple(model.metrics),
        tuple(model.trainable_variables),
        _distribution(model),
        model.steps_per_execution,
        model.jit_compile,
        model.run_eagerly,
    )


def _same(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (bool, int, float, str, type(None))):
        return type(a) is type(b) and a == b
    return a is b
