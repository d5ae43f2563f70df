"""Linear cost and bounded memory, by counting rather than timing."""

import weakref

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, lsuv_init

L = keras.layers


class _CountingDense(L.Dense):
    calls = 0

    def call(self, inputs, training=None):
        type(self).calls += 1
        return super().call(inputs, training=training)


def _chain(depth, seed=0):
    return keras.Sequential(
        [keras.Input((32,))]
        + [
            _CountingDense(
                32, activation="tanh", kernel_initializer=LSUV(seed=seed + i)
            )
            for i in range(depth)
        ]
    )


@pytest.mark.parametrize("depth", [8, 32])
def test_each_layer_is_evaluated_only_for_its_own_iterations(depth):
    model = _chain(depth)
    x = np.random.default_rng(0).normal(size=(64, 32)).astype("float32")
    _CountingDense.calls = 0
    report = lsuv_init(model, x, verbose=0)
    # Per layer: the first measurement, one measurement per rescaling,
    # and the forward call that feeds the next layer. Nothing re-runs
    # the network from the input, so the total is linear in depth.
    expected = sum(row.iterations + 2 for row in report)
    assert _CountingDense.calls == expected
    assert expected <= depth * (10 + 2)


class _Log:
    def __init__(self):
        self.refs = []
        self.max_alive = 0


class _Probe(L.Layer):
    """Identity that records which of its outputs are still alive."""

    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def call(self, x):
        alive = sum(ref() is not None for ref in self.log.refs)
        self.log.max_alive = max(self.log.max_alive, alive)
        out = x + 0.0
        self.log.refs.append(weakref.ref(out))
        return out


@pytest.mark.xfail(
    keras.backend.backend() == "torch",
    reason="on PyTorch 13 of 30 activations stay alive (docs/backends.md)",
    strict=True,
)
def test_graph_walk_frees_activations():
    log = _Log()
    inputs = keras.Input((16,))
    h = inputs
    for i in range(30):
        h = L.Dense(16, kernel_initializer=LSUV(seed=i))(h)
        h = _Probe(log)(h)
    model = keras.Model(inputs, h)
    x = np.random.default_rng(1).normal(size=(32, 16)).astype("float32")
    log.refs.clear()
    log.max_alive = 0
    lsuv_init(model, x, verbose=0)
    assert len(log.refs) == 30
    # Keras's own runner would keep all 30 alive to the end.
    assert log.max_alive <= 2
    # The check can fail: a plain forward pass holds them all.
    log.refs.clear()
    log.max_alive = 0
    model(x)
    assert log.max_alive >= 29
