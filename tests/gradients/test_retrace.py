"""`fit` in a loop: the callback's step is traced once, and traced again
only when something it depends on changes."""

import keras
import pytest

if keras.backend.backend() == "torch":
    pytest.skip(
        "PyTorch runs the step eagerly: nothing is traced",
        allow_module_level=True,
    )

from keras_initplus.gradients import GradientHealth, GradientHealthCallback
from tests.gradients.common import data, mlp


@pytest.fixture
def traces(monkeypatch):
    """Counts how often the gradient-health step is traced (its Python
    body runs only while tracing)."""
    count = []
    step = GradientHealth.update

    def counting(self, *args, **kwargs):
        count.append(1)
        return step(self, *args, **kwargs)

    monkeypatch.setattr(GradientHealth, "update", counting)
    return count


def fit(model, cb=None, epochs=1):
    x, y = data(32)
    return model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        verbose=0,
        callbacks=[cb] if cb else [],
    )


def test_fit_in_a_loop_traces_once(traces):
    model = mlp(keras.optimizers.Adam(0.01))
    cb = GradientHealthCallback(clip_norm=1.0)
    fit(model, cb)
    once = len(traces)
    assert once >= 1
    for _ in range(3):
        h = fit(model, cb)
        # Statistics are still per fit: 4 steps of this fit alone.
        assert h.history["grad_nonfinite"] == [0.0]
        assert cb.health.stats().scalars.steps == 4.0
    assert len(traces) == once
    # A plain fit in between runs the user's step, and does not cost the
    # callback its trace.
    fit(model)
    assert model.optimizer.__class__ is keras.optimizers.Adam
    fit(model, cb)
    assert len(traces) == once


def test_recompile_or_a_new_optimizer_traces_again(traces):
    model = mlp(keras.optimizers.Adam(0.01))
    cb = GradientHealthCallback(clip_norm=1.0)
    fit(model, cb)
    n = len(traces)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    fit(model, cb)
    assert len(traces) > n
    n = len(traces)
    fit(model, GradientHealthCallback(clip_norm=1.0))  # another callback
    assert len(traces) > n
