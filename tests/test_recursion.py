import sys

import keras
import numpy as np
import pytest

from keras_initplus.experiments.models import build_mlp
from keras_initplus.experiments.recursion import recursion_room

DEPTH = 1100


def _layers():
    return [keras.Input((4,))] + [
        keras.layers.Dense(4, kernel_initializer="looks_linear")
        for _ in range(DEPTH)
    ]


def test_a_1100_layer_sequential_needs_the_room():
    # The failure the room exists for: Keras's graph walk recurses.
    before = sys.getrecursionlimit()
    if before >= 8 * DEPTH:
        pytest.skip(f"recursion limit already {before}")
    with pytest.raises(RecursionError):
        keras.Sequential(_layers())
    with recursion_room(DEPTH):
        model = keras.Sequential(_layers())
    assert sys.getrecursionlimit() == before  # restored
    assert len(model.layers) == DEPTH


def test_build_mlp_builds_and_runs_1100_layers():
    model, _ = build_mlp(6, 3, [4] * DEPTH, "relu", "initializer_for_depth", 0)
    assert len(model.layers) == DEPTH + 1
    y = np.asarray(model(np.ones((2, 6), "float32")))
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    # Looks-linear at 1,100 layers: the signal neither vanished nor blew
    # up, so the softmax is not saturated on one class.
    assert y.max() < 0.99
