"""Embedding gradients arrive as `tf.IndexedSlices`: their norm is the
dense gradient's, repeated indices included."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_initplus.gradients import GradientHealth, GradientHealthCallback
from keras_initplus.gradients.norms import squared_norms
from tests.gradients.common import update_norm, weights


def test_squared_norm_of_slices_with_repeated_indices_is_the_dense_one():
    values = tf.constant([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    g = tf.IndexedSlices(values, tf.constant([4, 1, 4]), tf.constant([6, 2]))
    dense = tf.convert_to_tensor(g)
    expected = float(tf.reduce_sum(tf.square(dense)))
    assert float(squared_norms([g])[0]) == pytest.approx(expected, rel=1e-6)
    # The sum of squares of the stored rows would be another number.
    assert float(tf.reduce_sum(tf.square(values))) != pytest.approx(expected)


def test_health_keeps_slices_sparse_and_clips_the_dense_norm():
    table = keras.Variable(np.ones((6, 2), "float32"), name="embeddings")
    g = tf.IndexedSlices(
        tf.constant([[3.0, 0.0], [0.0, 4.0]]),
        tf.constant([2, 2]),
        tf.constant([6, 2]),
    )
    health = GradientHealth(clip_norm=1.0)
    (out,), finite = health.apply([g], [table])
    assert isinstance(out, tf.IndexedSlices) and bool(finite)
    # Dense gradient: row 2 = (3, 4), norm 5, scaled to norm 1.
    np.testing.assert_allclose(
        tf.convert_to_tensor(out).numpy()[2], [0.6, 0.8], rtol=1e-6
    )
    assert health.stats().scalars.norm_sum == pytest.approx(5.0, rel=1e-6)


def embedding_model(jit=False):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(20, 4, name="emb"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(keras.optimizers.SGD(1.0), "mse", jit_compile=jit)
    return model


@pytest.mark.parametrize("jit", [False, True])
def test_embedding_update_in_fit_has_the_clip_norm(jit):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(16, 5)).astype("int32")  # many repeats
    y = rng.normal(size=(16, 1)).astype("float32") * 10.0
    model = embedding_model(jit)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, model(x)))
    grads = tape.gradient(loss, model.trainable_variables)
    assert isinstance(grads[0], tf.IndexedSlices)
    dense = [tf.convert_to_tensor(g) for g in grads]
    dense_norm = float(tf.linalg.global_norm(dense))
    # What `tf.clip_by_global_norm` would measure: the stored rows.
    assert float(tf.linalg.global_norm(grads)) != pytest.approx(dense_norm)
    w0 = weights(model)
    h = model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        verbose=0,
        callbacks=[GradientHealthCallback(clip_norm=0.05)],
    )
    assert h.history["grad_norm"][0] == pytest.approx(dense_norm, rel=1e-5)
    assert update_norm(w0, weights(model)) == pytest.approx(0.05, rel=1e-5)
