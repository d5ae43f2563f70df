"""Vanishing and exploding gradients are reported, naming the layers."""

import logging

import keras
import numpy as np
import pytest

from keras_initplus.gradients import GradientHealthCallback

LOGGER = "keras_initplus.gradients"


def xy(n=640, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype("float32")
    return x, (x[:, :1] > 0).astype("float32")


def deep_sigmoid():
    keras.utils.set_random_seed(0)
    init = keras.initializers.RandomNormal(stddev=0.01)
    layers = [
        keras.layers.Dense(
            32, activation="sigmoid", kernel_initializer=init, name=f"d{i}"
        )
        for i in range(8)
    ]
    head = keras.layers.Dense(
        1, activation="sigmoid", kernel_initializer=init, name="head"
    )
    model = keras.Sequential([keras.Input((16,)), *layers, head], name="deep")
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    return model


def test_deep_sigmoid_mlp_is_vanishing_with_early_layers_named(caplog):
    x, y = xy()
    model = deep_sigmoid()
    cb = GradientHealthCallback()  # default thresholds
    with caplog.at_level(logging.WARNING, LOGGER):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    warnings = [r.getMessage() for r in caplog.records]
    vanishing = [w for w in warnings if w.startswith("Vanishing")]
    # Reported once: the second epoch repeats the same layers within
    # `warn_interval`.
    assert len(vanishing) == 1
    assert "deep/d0" in vanishing[0] and "deep/d1" in vanishing[0]
    assert "deep/head" not in vanishing[0]
    assert not any(w.startswith("Exploding") for w in warnings)
    t = cb.table_dict()
    rows = {
        (e, layer): v
        for e, layer, v in zip(t["epoch"], t["layer"], t["vanishing_steps"])
    }
    assert rows[(1, "deep/d0")] > 0 and rows[(1, "deep/head")] == 0


def wild(clip_norm):
    keras.utils.set_random_seed(0)
    big = keras.initializers.RandomNormal(stddev=2.0)
    layers = [
        keras.layers.Dense(
            64, activation="relu", kernel_initializer=big, name=f"e{i}"
        )
        for i in range(4)
    ]
    model = keras.Sequential(
        [
            keras.Input((16,)),
            *layers,
            keras.layers.Dense(1, kernel_initializer=big, name="out"),
        ],
        name="wild",
    )
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model, GradientHealthCallback(clip_norm=clip_norm)


def test_large_weights_high_lr_is_exploding_and_clipping_keeps_it_finite(
    caplog,
):
    x, y = xy(320)
    model, cb = wild(None)
    with caplog.at_level(logging.WARNING, LOGGER):
        h = model.fit(
            x, 10 * y, batch_size=16, epochs=1, verbose=0, callbacks=[cb]
        )
    assert h.history["grad_nonfinite"][0] > 0
    msg = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Exploding") and "wild/e0" in m for m in msg)

    model, cb = wild(1.0)
    h = model.fit(x, 10 * y, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    assert h.history["grad_nonfinite"] == [0.0, 0.0]
    assert h.history["grad_clipped"] == [1.0, 1.0]
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert np.all(np.isfinite(h.history["loss"]))


def small_mlp():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(16, activation="tanh", name="a"),
            keras.layers.Dense(1, name="b"),
        ],
        name="calm",
    )
    model.compile(keras.optimizers.SGD(1e-4), "mse")
    return model


def test_a_spike_above_the_running_mean_is_reported(caplog):
    x, y = xy(640)
    y = y.copy()
    y[600:608] = 1e4  # batch 75 of 80: a bad label batch
    model = small_mlp()
    cb = GradientHealthCallback()
    with caplog.at_level(logging.WARNING, LOGGER):
        h = model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[cb],
        )
    msg = [r.getMessage() for r in caplog.records]
    spikes = [m for m in msg if "x its running mean" in m]
    assert len(spikes) == 1 and "In 1 step the" in spikes[0]
    assert "calm/a" in spikes[0]
    (w,) = cb.warnings
    assert (w["kind"], w["measure"]) == ("exploding", "jump")
    assert w["value"] > w["threshold"] == 100.0
    assert h.history["grad_norm_max"][0] > 100 * h.history["grad_norm"][0] / 2


@pytest.mark.parametrize("cap, expected", [(1e-6, True), (1e6, False)])
def test_absolute_cap(caplog, cap, expected):
    x, y = xy(64)
    model = small_mlp()
    cb = GradientHealthCallback(explode_norm=cap, warmup_steps=1)
    with caplog.at_level(logging.WARNING, LOGGER):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])
    reported = any("Exploding" in r.getMessage() for r in caplog.records)
    assert reported is expected
