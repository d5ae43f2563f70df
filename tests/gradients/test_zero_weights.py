"""A layer whose weights start at zero, as initialize_model(...,
branch_end="zero") leaves the last kernel of every residual branch, is
not called exploding for its zero weight norm."""

import keras
import numpy as np

import keras_initplus


def test_zero_initialized_branch_ends_are_not_called_exploding():
    inputs = keras.Input((16,))
    h = keras.layers.Dense(32, "relu")(inputs)
    for i in range(6):
        b = keras.layers.Dense(32, "relu")(h)
        b = keras.layers.Dense(32, name=f"end{i}")(b)
        h = keras.layers.Add()([h, b])
    model = keras.Model(inputs, keras.layers.Dense(4, "softmax")(h))
    keras_initplus.initialize_model(model, seed=0, branch_end="zero")
    assert not np.any(
        keras.ops.convert_to_numpy(model.get_layer("end0").kernel)
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 16)).astype("float32")
    y = (x[:, :4]).argmax(1)
    health = keras_initplus.GradientHealthCallback(clip_norm=1.0)
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy"
    )
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[health])
    # Before, the ratio ||g|| / max(||w||, 1e-12) of a zero kernel read
    # as ~1e9 and every branch end was "exploding".
    kinds = [w["kind"] for w in health.warnings]
    assert "exploding" not in kinds, health.warnings
    # The branch ends moved off zero and are measured from then on.
    assert np.any(keras.ops.convert_to_numpy(model.get_layer("end0").kernel))
