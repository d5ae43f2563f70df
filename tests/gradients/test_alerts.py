"""The seeds' failures are named after one short epoch; healthy runs
stay silent; messages are one line, summarised and rate-limited."""

import keras
import numpy as np

from keras_initplus import GradientHealthCallback, HeAvgFanNormal
from keras_initplus.gradients import alerts, stats


def digits_like(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 32)).astype("float32")
    return x, (x[:, :10].argmax(axis=1)).astype("int32")


def mlp(depth, activation, init, width=64, name="net"):
    layers = [
        keras.layers.Dense(
            width,
            activation=activation,
            kernel_initializer=init,
            name=f"h{i}",
        )
        for i in range(depth)
    ]
    # Logits and `from_logits=True`: a saturated softmax then still has
    # a gradient on every backend (TensorFlow alone recovers the logits
    # of a softmax output; elsewhere the clipped probability has none).
    out = keras.layers.Dense(10, name="out")
    return keras.Sequential([keras.Input((32,)), *layers, out], name=name)


def fit(model, optimizer, cb, x, y, batch, epochs=1):
    model.compile(
        optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(
        x,
        y,
        batch_size=batch,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[cb],
    )
    return cb.warnings


def test_small_init_sigmoid_is_vanishing_after_one_epoch_of_8_steps():
    keras.utils.set_random_seed(0)
    x, y = digits_like(256)
    model = mlp(10, "sigmoid", keras.initializers.RandomNormal(0, 0.01, 1))
    cb = GradientHealthCallback()
    found = fit(model, keras.optimizers.SGD(0.1), cb, x, y, batch=32)
    (w,) = [w for w in found if w["epoch"] == 0]
    assert w["kind"] == "vanishing" and w["value"] < w["threshold"] == 5e-3
    assert w["layers"][0] == "net/h0" and "net/out" not in w["layers"]
    # One line: kind, first three layers then "and N more", the value
    # and threshold, and what to try.
    msg = w["message"]
    assert "\n" not in msg and msg.startswith("Vanishing gradients in")
    n = len(w["layers"])
    assert f"net/h0, net/h1, net/h2 and {n - 3} more" in msg
    assert "below 0.005 x the largest matrix's" in msg
    assert "initializer_for" in msg


def test_large_init_relu_is_exploding_after_one_epoch_of_4_steps():
    keras.utils.set_random_seed(0)
    x, y = digits_like(64)
    model = mlp(6, "relu", keras.initializers.RandomNormal(0, 2.0, 1))
    cb = GradientHealthCallback(clip_norm=1.0)
    found = fit(model, keras.optimizers.SGD(0.01), cb, x, y, batch=16)
    assert [w["kind"] for w in found] == ["exploding"]
    (w,) = found
    assert w["measure"] == "grad_weight_ratio"
    assert w["value"] > w["threshold"] == 1e3
    assert "net/h0" in w["layers"]
    assert "smaller clip_norm" in w["message"]


def test_lr_far_too_high_is_exploding_from_the_update_ratio():
    keras.utils.set_random_seed(0)
    x, y = digits_like(128)
    model = mlp(4, "relu", keras.initializers.HeNormal(1))
    cb = GradientHealthCallback(clip_norm=1.0)
    found = fit(
        model, keras.optimizers.SGD(10.0, momentum=0.9), cb, x, y, batch=32
    )
    (w,) = [w for w in found if w["epoch"] == 0]
    assert (w["kind"], w["measure"]) == ("exploding", "update_weight_ratio")
    assert w["value"] > 1.0
    t = cb.table_dict()
    assert max(t["update_weight_ratio"]) == w["value"]


def test_a_network_with_no_gradient_anywhere_is_named_in_full():
    # The last hidden layer's ReLUs are all dead and the output layer has
    # no bias: no weight gets any gradient, so the matrices' reference is
    # zero too and none is "below" it. Each is named as getting none.
    keras.utils.set_random_seed(0)
    x, y = digits_like(128)
    model = keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(16, activation="relu", name="h0"),
            keras.layers.Dense(
                16, activation="relu", bias_initializer="ones", name="h1"
            ),
            keras.layers.Dense(10, use_bias=False, name="out"),
        ],
        name="net",
    )
    h1 = model.get_layer("h1")
    h1.bias.assign(np.full((16,), -100.0, "float32"))
    cb = GradientHealthCallback()
    (w,) = fit(model, keras.optimizers.SGD(0.01), cb, x, y, batch=32)
    assert (w["kind"], w["measure"]) == ("vanishing", "zero_gradient")
    assert list(w["layers"]) == ["net/h0", "net/h1", "net/out"]
    assert "3 layers got no gradient at all" in w["message"]


def test_healthy_runs_get_no_warning():
    x, y = digits_like(512)
    for optimizer, init, act in [
        (keras.optimizers.SGD(0.01, momentum=0.9), "glorot_uniform", "relu"),
        (keras.optimizers.Adam(1e-3), HeAvgFanNormal(seed=1), "relu"),
        (keras.optimizers.Adam(1e-3), "glorot_uniform", "tanh"),
    ]:
        keras.utils.set_random_seed(0)
        model = mlp(8, act, init)
        cb = GradientHealthCallback(clip_norm=1.0)
        assert fit(model, optimizer, cb, x, y, batch=32, epochs=4) == []


def test_a_growing_list_is_not_repeated():
    health = GradientHealthCallback().health
    names = [f"h{i}" for i in range(5)]

    def epoch(n_low):
        zeros, ones = np.zeros(5), np.ones(5)
        layers = stats.LayerStats(
            norm_sum=ones,
            norm_max=ones,
            ratio_sum=np.array([1e-6] * n_low + [1.0] * (5 - n_low)),
            update_sum=zeros,
            low_steps=np.array([4.0] * n_low + [0.0] * (5 - n_low)),
            spike_steps=zeros,
            nonfinite_steps=zeros,
            weight_norm=ones,
            ema=zeros,
            weight_norm_start=ones,
        )
        scalars = stats.StepStats(4.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        state = stats.HealthStats(stats.Running(0.0, 0.0), scalars, layers)
        summary = stats.summarize(state, names, [1] * 5)
        return alerts.find_alerts(summary, health)

    (a,) = epoch(2)
    (b,) = epoch(3)
    assert a.layers == ("h0", "h1") and b.layers == ("h0", "h1", "h2")
    assert a.key == b.key  # so the callback logs it once


def test_rate_limited_warnings_are_kept_as_data(caplog):
    keras.utils.set_random_seed(0)
    x, y = digits_like(256)
    model = mlp(10, "sigmoid", keras.initializers.RandomNormal(0, 0.01, 1))
    cb = GradientHealthCallback()
    with caplog.at_level("WARNING", "keras_initplus.gradients"):
        found = fit(
            model, keras.optimizers.SGD(0.1), cb, x, y, batch=32, epochs=3
        )
    # One entry for the one warning, with every epoch it was found at.
    (w,) = found
    assert w["epoch"] == 0 and w["epochs"] == [0, 1, 2] and w["logged"]
    assert len(caplog.records) == 1
