"""`GradientHealth` and `GradientHealthOptimizer` in a custom training
loop on one device, in a `tf.function` and eagerly."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_initplus.gradients import GradientHealth, GradientHealthOptimizer
from tests.gradients.common import data, mlp, slots, update_norm, weights


def make_step(model, opt, compiled):
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                keras.losses.mean_squared_error(y, model(x, training=True))
            )
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)

    return tf.function(step) if compiled else step


@pytest.mark.parametrize("compiled", [True, False])
def test_clipped_steps_and_a_skipped_one(compiled):
    x, y = data(32)
    model = mlp(None)
    health = GradientHealth(clip_norm=0.1)
    health.build(model.trainable_variables)
    inner = keras.optimizers.SGD(1.0, momentum=0.5)
    opt = GradientHealthOptimizer(inner, health)
    step = make_step(model, opt, compiled)

    w0 = weights(model)
    step(x, y)
    assert update_norm(w0, weights(model)) == pytest.approx(0.1, rel=1e-5)

    w1, s1 = weights(model), slots(inner)
    bad = x.copy()
    bad[3, 1] = np.nan
    step(bad, y)
    for a, b in zip(w1, weights(model)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s1, slots(inner)):
        np.testing.assert_array_equal(a, b)
    assert int(inner.iterations) == 1

    step(x, y)
    assert int(inner.iterations) == 2
    stats = health.stats().scalars._asdict()
    assert stats["steps"] == 2.0
    assert stats["clipped"] == 2.0
    assert stats["nonfinite"] == 1.0
    assert stats["norm_max"] > 0.1


def test_health_alone_returns_clipped_gradients_and_the_flag():
    x, y = data(32)
    model = mlp(None)
    health = GradientHealth(clip_norm=0.5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, model(x)))
    grads = tape.gradient(loss, model.trainable_variables)
    out, finite = health.apply(grads, model.trainable_variables)
    assert bool(finite)
    assert float(tf.linalg.global_norm(grads)) > 0.5
    assert float(tf.linalg.global_norm(out)) == pytest.approx(0.5, rel=1e-5)
    expected, _ = tf.clip_by_global_norm(grads, 0.5)
    for a, b in zip(out, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)


def test_the_wrapper_refuses_an_optimizer_that_clips():
    with pytest.raises(ValueError, match=r"global_clipnorm=1\.0"):
        GradientHealthOptimizer(
            keras.optimizers.Adam(global_clipnorm=1.0), GradientHealth()
        )
