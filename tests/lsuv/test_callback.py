"""LSUVCallback runs lsuv_init once, at the start of the first fit."""

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, LSUVCallback
from tests.lsuv.measure import assert_on_target, functional_variances

L = keras.layers


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 16)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    return x, y


def _model():
    return keras.Sequential(
        [keras.Input((16,))]
        + [
            L.Dense(32, activation="relu", kernel_initializer=LSUV(seed=i))
            for i in range(8)
        ]
        + [L.Dense(1, kernel_initializer=LSUV(seed=99))]
    )


def test_callback_inside_fit():
    x, y = _data()
    model = _model()
    # A zero learning rate keeps the weights where LSUV left them, so the
    # state after fit is the state LSUV produced.
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "mse")
    callback = LSUVCallback(x[:32], verbose=0)
    model.fit(x, y, epochs=1, batch_size=16, callbacks=[callback], verbose=0)
    assert callback.report is not None and callback.report.all_converged
    assert len(callback.report) == 9
    assert_on_target(functional_variances(model, x[:32], model.layers))

    first = callback.report
    weights = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=16, callbacks=[callback], verbose=0)
    assert callback.report is first
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_callback_trains_and_unbuilt_model():
    x, y = _data(1)
    model = keras.Sequential(
        [
            L.Dense(32, activation="tanh", kernel_initializer=LSUV(seed=i))
            for i in range(4)
        ]
        + [L.Dense(1)]
    )
    model.compile("adam", "mse")
    callback = LSUVCallback(x[:32], verbose=0)
    history = model.fit(x, y, epochs=2, callbacks=[callback], verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert [r.name for r in callback.report] == [
        layer.name for layer in model.layers[:4]
    ]


def test_callback_checks_arguments_at_construction():
    with pytest.raises(ValueError, match="Received: tol=-1"):
        LSUVCallback(np.ones((4, 2)), tol=-1)
    with pytest.raises(ValueError, match="finite"):
        LSUVCallback(np.full((4, 2), np.nan))
