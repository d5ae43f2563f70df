"""`GradientHealthOptimizer.log_metrics()`: the callback's `grad_*` keys
in `fit`'s logs when the wrapper is the compiled optimizer.

The expected values are computed here, in float64, from a linear model
whose gradient is known in closed form: SGD on `mse` with a bias-free
`Dense(1)`, one step per batch, in order.
"""

import json
import math
import warnings

import keras
import numpy as np
import pytest

from keras_initplus import GradientHealthCallback, GradientHealthOptimizer
from keras_initplus.gradients.metrics import KEYS, GradientHealthMetric
from tests.gradients.common import data, mlp
from tests.helpers import assert_config_roundtrip, run_fresh

JAX = keras.backend.backend() == "jax"
CLIP = 1.0
LR = 0.05
BATCH = 4
W0 = np.array([[0.5], [-0.25]])


def linear_data():
    """Five batches of four. Their gradients' norms are far from CLIP on
    either side (checked by `simulate`); batch 2 holds a NaN input."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5 * BATCH, 2))
    # The size of each batch's residual sets its gradient's norm.
    scale = np.repeat([0.05, 2.0, 1.0, 0.1, 3.0], BATCH)
    y = x @ W0 + scale[:, None] * rng.normal(size=(5 * BATCH, 1))
    x[2 * BATCH + 1, 0] = np.nan
    return x.astype("float32"), y.astype("float32")


def simulate(x, y, epochs):
    """Each epoch's (norms of the applied steps, steps clipped, steps
    skipped), by the closed-form gradient of the mean squared error."""
    x, y = x.astype("float64"), y.astype("float64")
    w = W0.copy()
    out = []
    for _ in range(epochs):
        norms, clipped, skipped = [], 0, 0
        for b in range(0, len(x), BATCH):
            xb, yb = x[b : b + BATCH], y[b : b + BATCH]
            g = 2.0 / len(xb) * xb.T @ (xb @ w - yb)
            norm = float(np.linalg.norm(g))
            if not math.isfinite(norm):
                skipped += 1
                continue
            # Far from the threshold: float32 rounding cannot flip it.
            assert abs(norm - CLIP) > 0.05, norm
            norms.append(norm)
            if norm > CLIP:
                clipped += 1
                g = g * (CLIP / norm)
            w = w - LR * g
        out.append((norms, clipped, skipped))
    return out


def linear_model(optimizer, **compile_kwargs):
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(
                1,
                use_bias=False,
                kernel_initializer=keras.initializers.Constant(W0),
            ),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    return model


def wrapper():
    return GradientHealthOptimizer(keras.optimizers.SGD(LR), clip_norm=CLIP)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_history_has_the_epochs_statistics(run_eagerly):
    x, y = linear_data()
    expected = simulate(x, y, epochs=2)
    opt = wrapper()
    model = linear_model(
        opt, metrics=opt.log_metrics(), run_eagerly=run_eagerly
    )
    history = model.fit(
        x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0
    ).history
    for key in KEYS:
        assert len(history[key]) == 2, key
    for epoch, (norms, clipped, skipped) in enumerate(expected):
        # Each epoch is clipped on some steps and not on others.
        assert 0 < clipped < len(norms)
        assert history["grad_norm"][epoch] == pytest.approx(
            np.mean(norms), rel=1e-5
        )
        assert history["grad_norm_max"][epoch] == pytest.approx(
            max(norms), rel=1e-5
        )
        assert history["grad_clipped"][epoch] == pytest.approx(
            clipped / len(norms)
        )
        # The NaN batch, once per epoch: the count starts over.
        assert history["grad_nonfinite"][epoch] == skipped == 1
    # The epochs differ (the weights moved), so a sum over both epochs
    # would not pass the checks above.
    assert expected[0][0] != expected[1][0]
    # The last epoch's values are the wrapper's own summary.
    summary = opt.health.summary().logs()
    for key in KEYS:
        assert history[key][-1] == pytest.approx(summary[key], rel=1e-6)


def test_keys_next_to_other_metrics():
    x, y = data(64)
    opt = GradientHealthOptimizer(keras.optimizers.Adam(0.01), clip_norm=1.0)
    model = mlp(opt, metrics=["mae", *opt.log_metrics()])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert set(history) == {"loss", "mae", *KEYS}
    assert all(np.isfinite(history[key]).all() for key in KEYS)


def test_per_batch_logs():
    # Live on TensorFlow and PyTorch. JAX's traced step cannot read the
    # optimizer's state from the metrics: NaN there, per batch only.
    x, y = data(64)
    opt = wrapper()
    model = mlp(opt, metrics=opt.log_metrics())
    seen = []
    batch_end = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(dict(logs))
    )
    history = model.fit(
        x, y, batch_size=16, epochs=1, verbose=0, callbacks=[batch_end]
    ).history
    last = seen[-1]
    assert set(KEYS) <= set(last)
    for key in KEYS:
        if JAX:
            assert math.isnan(float(last[key]))
        else:
            assert float(last[key]) == pytest.approx(history[key][0])


def test_validation_and_evaluate_report_nan():
    # Keras resets every metric, so the wrapper's window, when
    # `evaluate` starts; no gradient step runs there.
    x, y = data(64)
    opt = wrapper()
    model = mlp(opt, metrics=opt.log_metrics())
    history = model.fit(
        x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y)
    ).history
    for key in KEYS:
        assert np.isfinite(history[key]).all(), key
        assert np.isnan(history[f"val_{key}"]).all(), key
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert all(math.isnan(result[key]) for key in KEYS)


def test_fit_again_starts_a_new_epoch():
    x, y = linear_data()
    opt = wrapper()
    model = linear_model(opt, metrics=opt.log_metrics())
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    second = model.fit(
        x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0
    ).history
    norms, clipped, skipped = simulate(x, y, epochs=2)[1]
    assert second["grad_norm"] == [pytest.approx(np.mean(norms), rel=1e-5)]
    assert second["grad_nonfinite"] == [skipped]


def test_compile_again_starts_a_new_epoch():
    # TensorFlow builds the new `compile`'s metrics only while it traces
    # the first step, after the epoch's reset: they reset then, once.
    x, y = linear_data()
    opt = wrapper()
    model = linear_model(opt, metrics=opt.log_metrics())
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    model.compile(optimizer=opt, loss="mse", metrics=opt.log_metrics())
    second = model.fit(
        x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0
    ).history
    expected = simulate(x, y, epochs=3)[1:]
    for epoch, (norms, clipped, skipped) in enumerate(expected):
        assert second["grad_norm"][epoch] == pytest.approx(
            np.mean(norms), rel=1e-5
        )
        assert second["grad_clipped"][epoch] == pytest.approx(
            clipped / len(norms)
        )
        assert second["grad_nonfinite"][epoch] == skipped


def test_log_metrics_are_four_new_metrics():
    opt = wrapper()
    first, again = opt.log_metrics(), opt.log_metrics()
    assert [m.name for m in first] == list(KEYS)
    assert all(isinstance(m, GradientHealthMetric) for m in first)
    assert all(m.optimizer is opt for m in first)
    assert not set(map(id, first)) & set(map(id, again))


def test_metric_refuses_anything_but_the_wrapper():
    with pytest.raises(ValueError, match="optimizer.log_metrics()"):
        GradientHealthMetric(keras.optimizers.Adam(), "grad_norm")
    with pytest.raises(ValueError, match="Received: name='loss'"):
        GradientHealthMetric(wrapper(), "loss")


def test_metrics_of_another_optimizer_warn_and_report_nan():
    x, y = data(32)
    other = wrapper()
    model = mlp(wrapper(), metrics=other.log_metrics())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    messages = [str(w.message) for w in caught]
    assert any("never built" in m for m in messages), messages
    assert all(np.isnan(history.history[key]).all() for key in KEYS)


def test_metric_config_roundtrip():
    metric = GradientHealthMetric(wrapper(), "grad_clipped")
    restored = assert_config_roundtrip(metric)
    assert restored.name == "grad_clipped"
    assert restored.health.clip_norm == CLIP


@pytest.mark.parametrize("with_metrics", [False, True])
def test_the_callback_reads_the_compiled_wrapper(with_metrics):
    # The callback changes nothing in `fit` then: it reads the wrapper's
    # state, after validation has reset the compiled metrics too.
    x, y = linear_data()
    expected = simulate(x, y, epochs=2)
    opt = wrapper()
    metrics = opt.log_metrics() if with_metrics else None
    model = linear_model(opt, metrics=metrics)
    callback = GradientHealthCallback()
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        validation_data=(x[:4], y[:4]),
        callbacks=[callback],
    ).history
    assert model.optimizer is opt
    assert callback.health is opt.health
    for epoch, (norms, clipped, skipped) in enumerate(expected):
        assert history["grad_norm"][epoch] == pytest.approx(
            np.mean(norms), rel=1e-5
        )
        assert history["grad_clipped"][epoch] == pytest.approx(
            clipped / len(norms)
        )
        assert history["grad_nonfinite"][epoch] == skipped == 1
    rows = [r for r in callback.table if r["epoch"] == 1]
    assert len(rows) == 1  # the one Dense layer
    assert rows[0]["grad_norm"] == pytest.approx(np.mean(expected[1][0]))


def test_the_callback_takes_no_settings_beside_a_compiled_wrapper():
    x, y = data(32)
    opt = wrapper()
    model = mlp(opt)
    w0 = model.get_weights()
    with pytest.raises(ValueError) as info:
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[GradientHealthCallback(clip_norm=0.5)],
        )
    message = str(info.value)
    assert "only reads its statistics" in message
    assert "Received: clip_norm=0.5" in message
    assert "GradientHealth(clip_norm=1.0" in message
    # Refused before any step.
    assert all(np.array_equal(a, b) for a, b in zip(w0, model.get_weights()))


def test_saved_model_keeps_its_metrics_bound(tmp_path):
    x, y = linear_data()
    opt = wrapper()
    model = linear_model(opt, metrics=opt.log_metrics())
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    norms, clipped, skipped = simulate(x, y, epochs=2)[1]
    out = run_fresh(
        f"""
        import keras, numpy as np
        import keras_initplus
        m = keras.saving.load_model({path!r})
        metrics = m._compile_config.config["metrics"]
        # `load_model` shares the optimizer the file names twice.
        assert all(t.optimizer is m.optimizer for t in metrics)
        xy = np.load({str(tmp_path / "xy.npz")!r})
        h = m.fit(xy["x"], xy["y"], batch_size={BATCH}, epochs=1,
                  shuffle=False, verbose=0).history
        print(h["grad_norm"][0], h["grad_clipped"][0],
              h["grad_nonfinite"][0])
        """
    )
    norm, frac, nonfinite = map(float, out.split()[-3:])
    assert norm == pytest.approx(np.mean(norms), rel=1e-5)
    assert frac == pytest.approx(clipped / len(norms))
    assert nonfinite == skipped


MIRRORED = """
import json, os
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
import keras, numpy as np
from keras_initplus import GradientHealthOptimizer
from tests.gradients.test_optimizer_logs import linear_data, linear_model, LR

x, y = linear_data()
x[np.isnan(x)] = 0.0  # a NaN on one replica is test_strategy's business
out = {}
for name, strategy in [
    ("single", tf.distribute.OneDeviceStrategy("/cpu:0")),
    ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
]:
    with strategy.scope():
        opt = GradientHealthOptimizer(keras.optimizers.SGD(LR), clip_norm=1.0)
        model = linear_model(opt, metrics=opt.log_metrics())
    h = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    out[name] = h.history
print(json.dumps(out))
"""


@pytest.mark.tensorflow_only
@pytest.mark.distributed
@pytest.mark.slow
def test_mirrored_strategy_reports_what_one_device_does():
    out = run_fresh(MIRRORED)
    result = json.loads(out.strip().splitlines()[-1])
    single, mirrored = result["single"], result["mirrored"]
    for key in KEYS:
        assert mirrored[key] == pytest.approx(single[key], rel=1e-5), key
    assert 0 < single["grad_clipped"][0] < 1
