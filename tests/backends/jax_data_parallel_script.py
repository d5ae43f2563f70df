"""Gradient health under keras.distribution.DataParallel on 2 host CPU
devices (run by test_jax_data_parallel.py in a fresh process)."""

import json
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_initplus import GradientHealthCallback  # noqa: E402


def build(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh", name="hidden"),
            keras.layers.Dense(1, name="out"),
        ],
        name="mlp",
    )
    model.compile(optimizer, "mse")
    return model


def state(model):
    return [
        np.array(keras.ops.convert_to_numpy(v))
        for v in model.weights + model.optimizer.variables
    ]


def fit(model, x, y, clip_norm):
    cb = GradientHealthCallback(clip_norm=clip_norm)
    h = model.fit(
        x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[cb]
    )
    return h.history


def run(x, y, x_bad):
    sgd = keras.optimizers.SGD(0.1, momentum=0.9)
    model = build(sgd)
    history = fit(model, x, y, clip_norm=0.5)
    before = state(model)
    bad = fit(model, x_bad, y[:16], clip_norm=0.5)
    after = state(model)
    return model, history, bad, before, after


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32") * 3.0
    y = rng.normal(size=(32, 1)).astype("float32") * 5.0
    # One global batch of 16 whose first 8 rows, the first device's
    # shard, hold an Inf.
    x_bad = x[:16].copy()
    x_bad[3, 2] = np.inf

    single, h1, bad1, _, _ = run(x, y, x_bad)
    single_w = [np.array(w) for w in single.get_weights()]

    devices = jax.devices()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )
    model, h2, bad2, before, after = run(x, y, x_bad)
    kernel = model.get_layer("hidden").kernel.value
    print(
        json.dumps(
            {
                "devices": len(devices),
                "replicated": bool(kernel.sharding.is_fully_replicated),
                "max_diff": max(
                    float(np.abs(a - b).max())
                    for a, b in zip(single_w, model.get_weights())
                ),
                "history_single": h1,
                "history_parallel": h2,
                "bad_single": bad1,
                "bad_parallel": bad2,
                "bad_step_changed_nothing": all(
                    np.array_equal(a, b) for a, b in zip(before, after)
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
