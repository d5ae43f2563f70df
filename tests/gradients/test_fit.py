"""The callback inside `fit`: logs, restoring, re-fitting, saving,
`steps_per_execution`, mixed precision and failures."""

import os

import keras
import numpy as np
import pytest

from keras_initplus.gradients import GradientHealthCallback
from tests.gradients.common import (
    data,
    global_norm,
    gradients,
    load_without_the_package,
    mlp,
    update_norm,
    weights,
)


def test_logs_reach_history_and_table():
    x, y = data(64)
    model = mlp(keras.optimizers.Adam(0.01))
    cb = GradientHealthCallback(clip_norm=1.0)
    h = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    for key in ("grad_norm", "grad_norm_max", "grad_clipped"):
        assert len(h.history[key]) == 2
    assert h.history["grad_nonfinite"] == [0.0, 0.0]
    assert 0 < h.history["grad_norm"][0] <= h.history["grad_norm_max"][0]
    table = cb.table_dict()
    assert table["layer"] == ["mlp/hidden", "mlp/out"] * 2
    assert table["epoch"] == [0, 0, 1, 1]
    assert all(r > 0 for r in table["grad_weight_ratio"])


def test_optimizer_restored_and_second_fit_without_callback_unclipped():
    x, y = data(32)
    opt = keras.optimizers.SGD(1.0)
    model = mlp(opt)
    model.fit(
        x,
        y,
        batch_size=32,
        epochs=1,
        verbose=0,
        callbacks=[GradientHealthCallback(clip_norm=1e-3)],
    )
    assert model.optimizer is opt
    assert model.train_function is None
    w0 = weights(model)
    gnorm = global_norm(gradients(model, x, y))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert update_norm(w0, weights(model)) == pytest.approx(gnorm, rel=1e-4)
    assert gnorm > 1e-2


def test_second_fit_with_callback_counts_only_its_own_steps():
    x, y = data(64)
    model = mlp(keras.optimizers.SGD(1.0))
    cb = GradientHealthCallback(clip_norm=0.01)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    w0 = weights(model)
    model.fit(
        x[:16], y[:16], batch_size=16, epochs=1, verbose=0, callbacks=[cb]
    )
    assert update_norm(w0, weights(model)) == pytest.approx(0.01, rel=1e-5)
    assert cb.health.stats().scalars.steps == 1.0  # one step in this epoch
    assert model.optimizer.iterations.numpy() == 5


def test_steps_per_execution_counts_every_step():
    if keras.backend.backend() == "torch":
        pytest.skip("Keras's PyTorch trainer runs one step per execution")
    x, y = data(96)
    hist = {}
    for spe in (1, 4):
        model = mlp(keras.optimizers.SGD(0.05), steps_per_execution=spe)
        cb = GradientHealthCallback(clip_norm=2.0)
        h = model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[cb],
        )
        hist[spe] = h.history
        assert cb.health.stats().scalars.steps == 12.0
    for key in ("grad_norm", "grad_norm_max", "grad_clipped"):
        assert hist[4][key][0] == pytest.approx(hist[1][key][0], rel=1e-5)


def test_save_after_fit_loads_without_the_package(tmp_path):
    x, y = data(32)
    model = mlp(keras.optimizers.Adam(0.01))
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        callbacks=[GradientHealthCallback(clip_norm=1.0)],
    )
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    np.save(os.path.join(tmp_path, "x.npy"), x)
    expected = model.predict(x, verbose=0)
    name, iterations, _ = load_without_the_package(
        path,
        f"""
        p = m.predict(np.load({os.path.join(tmp_path, "x.npy")!r}), verbose=0)
        np.save({os.path.join(tmp_path, "p.npy")!r}, p)
        """,
    )
    assert name == "Adam"
    assert iterations == 4
    np.testing.assert_allclose(
        np.load(os.path.join(tmp_path, "p.npy")), expected, rtol=1e-6
    )


def test_mixed_precision_measures_unscaled_gradients():
    x, y = data(32)
    ref = mlp(keras.optimizers.SGD(1.0))
    h_ref = ref.fit(
        x,
        y,
        batch_size=32,
        epochs=1,
        verbose=0,
        callbacks=[GradientHealthCallback(clip_norm=0.25)],
    )
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        sgd = keras.optimizers.SGD(1.0)
        # A scale that does not overflow float16 on the first step.
        lso = keras.optimizers.LossScaleOptimizer(sgd, initial_scale=16.0)
        model = mlp(lso)
        w0 = weights(model)
        h = model.fit(
            x,
            y,
            batch_size=32,
            epochs=1,
            verbose=0,
            callbacks=[GradientHealthCallback(clip_norm=0.25)],
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.optimizer is lso and lso.inner_optimizer is sgd
    # float16 forward pass: the norm agrees to float16 precision, and is
    # not multiplied by the loss scale.
    assert h.history["grad_norm"][0] == pytest.approx(
        h_ref.history["grad_norm"][0], rel=1e-2
    )
    assert update_norm(w0, weights(model)) == pytest.approx(0.25, rel=1e-4)
    assert h.history["grad_nonfinite"] == [0.0]


def test_mixed_precision_overflow_steps_are_not_double_counted():
    x, y = data(64)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = mlp(keras.optimizers.SGD(0.01))
        cb = GradientHealthCallback(clip_norm=1.0)
        h = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    lso = model.optimizer
    # The default scale, 2**15, overflows float16 at first: the
    # LossScaleOptimizer skips those steps and lowers its scale.
    assert float(lso.dynamic_scale.numpy()) < 2.0**15
    applied = int(lso.inner_optimizer.iterations.numpy())
    assert 0 < applied < 8
    assert cb.health.stats().scalars.steps == applied
    assert h.history["grad_nonfinite"] == [0.0]
    assert np.isfinite(h.history["grad_norm"][0])


class Boom(keras.layers.Layer):
    """Raises inside the train step when the input holds a NaN."""

    def call(self, x):
        import tensorflow as tf

        return tf.debugging.check_numerics(x, "boom")


@pytest.mark.tensorflow_only
def test_failing_step_restores_the_optimizer():
    import tensorflow as tf

    x, y = data(32)
    x[20, 0] = np.nan
    opt = keras.optimizers.SGD(0.1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), Boom(), keras.layers.Dense(1)])
    model.compile(opt, "mse")
    with pytest.raises(tf.errors.InvalidArgumentError):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[GradientHealthCallback(clip_norm=1.0)],
        )
    assert model.optimizer is opt
    assert model.train_function is None


class Raise(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise RuntimeError("user callback failed")


def test_next_fit_after_a_failing_callback_runs_the_users_step():
    x, y = data(32)
    opt = keras.optimizers.SGD(1.0)
    model = mlp(opt)
    with pytest.raises(RuntimeError):
        model.fit(
            x,
            y,
            batch_size=32,
            epochs=1,
            verbose=0,
            callbacks=[GradientHealthCallback(clip_norm=1e-3), Raise()],
        )
    w0 = weights(model)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert model.optimizer is opt
    assert update_norm(w0, weights(model)) > 1e-2


def test_optimizer_that_clips_is_refused():
    x, y = data(16)
    for arg in ("clipnorm", "global_clipnorm", "clipvalue"):
        model = mlp(keras.optimizers.SGD(0.1, **{arg: 1.0}))
        with pytest.raises(ValueError, match=f"{arg}=1.0"):
            model.fit(
                x,
                y,
                verbose=0,
                callbacks=[GradientHealthCallback(clip_norm=1.0)],
            )
        assert model.optimizer.get_config()[arg] == 1.0


def test_frozen_layer_and_none_gradients():
    x, y = data(32)
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    frozen = keras.layers.Dense(8, name="frozen")
    frozen.trainable = False
    h = frozen(inp)
    unused = keras.layers.Dense(3, name="unused")
    _ = unused(inp)  # built, trainable, but not on the loss path
    out = keras.layers.Dense(1, name="out")(h)
    model = keras.Model(inp, out)
    model.unused = unused
    model.compile(keras.optimizers.SGD(1.0), "mse")
    w0 = weights(model)
    cb = GradientHealthCallback(clip_norm=0.1)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    w1 = weights(model)
    assert update_norm(w0, w1) == pytest.approx(0.1, rel=1e-5)
    assert "functional/frozen" not in cb.health.layer_names
