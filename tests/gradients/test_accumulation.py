"""`gradient_accumulation_steps`: the accumulated gradient is what is
measured, clipped and checked."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_initplus.gradients import GradientHealthCallback
from tests.gradients.common import data, mlp, slots, weights


def window_gradient(model, x, y, k):
    """The mean of the k micro-batch gradients at the current weights."""
    grads = []
    for xb, yb in zip(np.split(x, k), np.split(y, k)):
        with tf.GradientTape() as tape:
            loss = keras.losses.mean_squared_error(yb, model(xb))
            loss = tf.reduce_mean(loss)
        grads.append(tape.gradient(loss, model.trainable_variables))
    return [sum(gs) / k for gs in zip(*grads)]


@pytest.mark.parametrize("clip_norm", [0.1, 1e6])
def test_the_accumulated_gradient_is_clipped_and_measured(clip_norm):
    x, y = data(32)
    model = mlp(keras.optimizers.SGD(1.0, gradient_accumulation_steps=4))
    w0 = weights(model)
    mean = window_gradient(model, x, y, 4)
    norm = float(tf.linalg.global_norm(mean))
    expected, _ = tf.clip_by_global_norm(mean, clip_norm)
    cb = GradientHealthCallback(clip_norm=clip_norm)
    h = model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[cb]
    )
    assert norm > 0.1  # so the small threshold really clips
    # One update from four micro-batches; one measured step.
    assert cb.health.stats().scalars.steps == 1.0
    assert h.history["grad_norm"][0] == pytest.approx(norm, rel=1e-5)
    assert h.history["grad_clipped"] == [1.0 if clip_norm < norm else 0.0]
    for w, g, after in zip(w0, expected, weights(model)):
        np.testing.assert_allclose(after, w - g.numpy(), rtol=0, atol=1e-6)


def test_a_nonfinite_micro_batch_skips_its_window_only():
    x, y = data(32)
    x[9, 2] = np.inf  # second micro-batch of the first window
    opt = keras.optimizers.SGD(0.1, momentum=0.9, gradient_accumulation_steps=2)
    model = mlp(opt)
    opt.build(model.trainable_variables)
    momentum = [i for i, v in enumerate(opt.variables) if "momentum" in v.path]
    assert len(momentum) == 4
    w0, s0 = weights(model), slots(opt)
    seen = []

    class AfterWindow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((weights(self.model), slots(opt)))

    h = model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[GradientHealthCallback(clip_norm=1.0), AfterWindow()],
    )
    w_after, s_after = seen[1]  # the first window's update step
    for a, b in zip(w0, w_after):
        np.testing.assert_array_equal(a, b)
    for i in momentum:
        np.testing.assert_array_equal(s0[i], s_after[i])
    # The next window's update does move the momentum.
    assert any(np.any(seen[3][1][i] != s0[i]) for i in momentum)
    assert h.history["grad_nonfinite"] == [1.0]
    # The second window trains, and nothing became NaN.
    final = weights(model)
    assert any(not np.array_equal(a, b) for a, b in zip(w0, final))
    assert all(np.all(np.isfinite(w)) for w in final)
