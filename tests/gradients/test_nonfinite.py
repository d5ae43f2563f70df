"""Non-finite gradients on one device: skipped, counted, or stopping."""

import logging

import keras
import numpy as np
import pytest

from keras_initplus.gradients import GradientHealthCallback
from tests.gradients.common import Recorder, data, mlp


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("jit", [False, True])
def test_bad_step_leaves_weights_and_slots_bit_identical(bad, jit):
    x, y = data(32)
    x[13, 4] = bad  # batch 1 of 4
    model = mlp(keras.optimizers.Adam(0.01), jit_compile=jit)
    rec = Recorder()
    cb = GradientHealthCallback(clip_norm=1.0)
    h = model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[cb, rec],
    )
    (w0, s0), (w1, s1), (w2, s2) = rec.after[0:3]
    for a, b in zip(w0 + s0, w1 + s1):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(w1, w2))
    assert all(np.all(np.isfinite(w)) for w in w2)
    assert h.history["grad_nonfinite"] == [1.0]
    assert int(model.optimizer.iterations.numpy()) == 3
    assert "mlp/hidden" in cb.nonfinite_layers
    # The mean norm is over the three applied steps only.
    assert np.isfinite(h.history["grad_norm"][0])


def test_stop_on_nonfinite_stops_and_names_layers(caplog):
    x, y = data(64)
    x[13, 4] = np.nan
    model = mlp(keras.optimizers.SGD(0.01))
    rec = Recorder()
    cb = GradientHealthCallback(stop_on_nonfinite=True)
    with caplog.at_level(logging.ERROR, "keras_initplus.gradients"):
        h = model.fit(
            x,
            y,
            batch_size=8,
            epochs=3,
            verbose=0,
            shuffle=False,
            callbacks=[cb, rec],
        )
    assert len(rec.after) == 2  # stopped after the bad batch
    assert len(h.history["loss"]) == 1
    assert "mlp/hidden" in caplog.text
    assert "stop_on_nonfinite" in caplog.text
    assert "mlp/hidden" in cb.nonfinite_layers
    np.testing.assert_array_equal(rec.after[0][0][0], rec.after[1][0][0])
