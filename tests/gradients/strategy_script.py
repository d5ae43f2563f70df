"""Run in a fresh process: 2 logical CPU devices, MirroredStrategy.

Prints one JSON line with the measurements the tests assert on. Logical
devices must be configured before TensorFlow initializes, which is why
this is not a test module.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_initplus.gradients import GradientHealthCallback  # noqa: E402

BATCH = 16
DEVICES = ["/cpu:0", "/cpu:1"]


def make_model(strategy, optimizer, seed=0):
    with strategy.scope():
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer=optimizer(), loss="mse")
    return model


def data(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32") * 3.0
    y = rng.normal(size=(n, 1)).astype("float32") * 5.0
    return x, y


def weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def slots(optimizer):
    return [np.asarray(v) for v in optimizer.variables]


def compare(mirrored, single):
    """How far the mirrored run's weights ended from the single-device
    run's, and both runs' histories."""
    diff = max(
        float(np.max(np.abs(a - b))) for a, b in zip(mirrored[0], single[0])
    )
    return {
        "max_abs_diff": diff,
        "scale": max(float(np.max(np.abs(a))) for a in single[0]),
        "history_mirrored": mirrored[1],
        "history_single": single[1],
    }


def same_as_single_device(clip_norm, clip_mode, callback=True):
    def sgd():
        if callback:
            return keras.optimizers.SGD(0.1, momentum=0.9)
        return keras.optimizers.SGD(0.1, momentum=0.9, global_clipnorm=0.1)

    x, y = data(BATCH * 6)
    out = []
    for strategy in (
        tf.distribute.MirroredStrategy(DEVICES),
        tf.distribute.OneDeviceStrategy("/cpu:0"),
    ):
        model = make_model(strategy, sgd)
        cbs = [GradientHealthCallback(clip_norm, clip_mode)] if callback else []
        h = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=cbs,
        )
        out.append((weights(model), h.history))
    return compare(*out)


def sparse_same_as_single_device(clip_norm=0.05):
    """An embedding's gradient is `tf.IndexedSlices`: summed across
    replicas (gathered rows) it must still clip to the single-device
    update, repeated indices included."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 6, size=(BATCH * 4, 5)).astype("int32")
    y = rng.normal(size=(BATCH * 4, 1)).astype("float32") * 5.0
    out = []
    for strategy in (
        tf.distribute.MirroredStrategy(DEVICES),
        tf.distribute.OneDeviceStrategy("/cpu:0"),
    ):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = keras.Sequential(
                [
                    keras.Input((5,), dtype="int32"),
                    keras.layers.Embedding(12, 4),
                    keras.layers.Flatten(),
                    keras.layers.Dense(1),
                ]
            )
            model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
        h = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[GradientHealthCallback(clip_norm)],
        )
        out.append((weights(model), h.history))
    return compare(*out)


class Recorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.after = []

    def on_train_batch_end(self, batch, logs=None):
        self.after.append((weights(self.model), slots(self.model.optimizer)))


def nonfinite_one_replica(bad_value, replica):
    strategy = tf.distribute.MirroredStrategy(DEVICES)
    model = make_model(strategy, lambda: keras.optimizers.Adam(0.01))
    x, y = data(BATCH * 4)
    # Batch 2 of 4; MirroredStrategy gives the first half of each global
    # batch to replica 0 and the second half to replica 1.
    bad = BATCH * 2 + replica * (BATCH // 2) + 3
    x[bad, 2] = bad_value
    rec = Recorder()
    cb = GradientHealthCallback(clip_norm=1.0)
    h = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[cb, rec],
    )
    (w1, s1), (w2, s2), (w3, s3) = rec.after[1:4]
    return {
        "weights_unchanged": all(np.array_equal(a, b) for a, b in zip(w1, w2)),
        "slots_unchanged": all(np.array_equal(a, b) for a, b in zip(s1, s2)),
        "trained_after": not all(np.array_equal(a, b) for a, b in zip(w2, w3)),
        "finite_after": all(np.all(np.isfinite(a)) for a in w3),
        "grad_nonfinite": h.history["grad_nonfinite"],
        "iterations": int(model.optimizer.iterations.numpy()),
        "nonfinite_layers": cb.nonfinite_layers,
    }


def replica_copies_agree(variables):
    # `get_weights` reads one copy; a skip that happened on one replica
    # only would show as copies that differ.
    strategy = tf.distribute.get_strategy()
    for v in variables:
        copies = strategy.experimental_local_results(getattr(v, "_value", v))
        first = np.asarray(copies[0])
        if any(not np.array_equal(first, np.asarray(c)) for c in copies):
            return False
    return True


class MixedRecorder(keras.callbacks.Callback):
    """Weights and the inner optimizer's slots after every batch. The
    loss-scale variables are left out: lowering the scale after an
    overflow is the LossScaleOptimizer's normal work."""

    def on_train_begin(self, logs=None):
        self.after = []
        self.agree = []

    def on_train_batch_end(self, batch, logs=None):
        inner = self.model.optimizer.inner_optimizer
        self.after.append((weights(self.model), slots(inner)))
        with self.model.distribute_strategy.scope():
            self.agree.append(
                replica_copies_agree(self.model.weights)
                and replica_copies_agree(inner.variables)
            )


def nonfinite_mixed_precision(replica, callback=True):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        strategy = tf.distribute.MirroredStrategy(DEVICES)
        # A loss scale that does not overflow float16 on good batches,
        # so the one skipped step is the poisoned one.
        model = make_model(
            strategy,
            lambda: keras.optimizers.LossScaleOptimizer(
                keras.optimizers.Adam(0.01), initial_scale=16.0
            ),
        )
        x, y = data(BATCH * 4)
        x[BATCH * 2 + replica * (BATCH // 2) + 3, 2] = np.inf
        rec = MixedRecorder()
        cbs = [GradientHealthCallback(clip_norm=1.0)] if callback else []
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=cbs + [rec],
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    (w1, s1), (w2, s2), (w3, s3) = rec.after[1:4]
    inner = model.optimizer.inner_optimizer
    return {
        "dtype": str(model.layers[0].compute_dtype),
        "weights_unchanged": all(np.array_equal(a, b) for a, b in zip(w1, w2)),
        "slots_unchanged": all(np.array_equal(a, b) for a, b in zip(s1, s2)),
        "trained_after": not all(np.array_equal(a, b) for a, b in zip(w2, w3)),
        "finite_after": all(np.all(np.isfinite(a)) for a in w3 + s3),
        "replicas_agree": rec.agree,
        "iterations": int(inner.iterations.numpy()),
        "loss_scale": float(model.optimizer.dynamic_scale.numpy()),
    }


def main():
    which = sys.argv[1]
    if which == "mixed":
        result = {
            "inf_replica1": nonfinite_mixed_precision(1),
            "inf_replica0": nonfinite_mixed_precision(0),
            "keras_alone_inf_replica1": nonfinite_mixed_precision(1, False),
        }
    elif which == "sparse":
        # Its own process: after another MirroredStrategy's `fit` in the
        # same process, TensorFlow's collectives fail on the sparse
        # all-reduce with a shape mismatch, with or without the callback.
        result = sparse_same_as_single_device()
    elif which == "clip":
        result = {
            "global": same_as_single_device(0.5, "global"),
            "layer": same_as_single_device(0.3, "layer"),
            "monitor": same_as_single_device(None, "global"),
            "keras_global_clipnorm": same_as_single_device(
                None, "global", callback=False
            ),
        }
    else:
        result = {
            "nan_replica1": nonfinite_one_replica(np.nan, 1),
            "inf_replica1": nonfinite_one_replica(np.inf, 1),
            "inf_replica0": nonfinite_one_replica(np.inf, 0),
        }
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    main()
