"""A model with no trainable weights: the callback warns that there is
nothing to monitor and `fit` runs as it does without it."""

import keras
import numpy as np
import pytest

from keras_initplus.gradients import GradientHealthCallback
from tests.gradients.common import data, weights


def frozen_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(1, trainable=False)],
        name="frozen",
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def test_warns_and_fits_as_plain_fit():
    x, y = data(32)
    plain = frozen_model()
    expected = plain.fit(x, y, epochs=2, verbose=0, shuffle=False).history
    model = frozen_model()
    cb = GradientHealthCallback(clip_norm=1.0)
    warning = "model 'frozen' has no trainable weights: there is nothing to"
    with pytest.warns(UserWarning, match=warning):
        got = model.fit(
            x, y, epochs=2, verbose=0, shuffle=False, callbacks=[cb]
        ).history
    assert got.keys() == expected.keys() == {"loss"}
    np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-6)
    for a, b in zip(weights(model), weights(plain)):
        np.testing.assert_array_equal(a, b)
    assert cb.table == [] and cb.warnings == []


def test_the_callback_still_works_on_a_later_trainable_fit():
    x, y = data(32)
    model = frozen_model()
    cb = GradientHealthCallback()
    with pytest.warns(UserWarning, match="no trainable weights"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    model.layers[0].trainable = True
    model.compile(keras.optimizers.SGD(0.1), "mse")
    h = model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    assert h.history["grad_nonfinite"] == [0.0]
    assert h.history["grad_norm"][0] > 0
