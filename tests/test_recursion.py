import sys

import keras
import numpy as np
import pytest

from keras_initplus import recursion_room
from keras_initplus.cli.demo.models import build_mlp

DEPTH = 1100


def _layers():
    return [keras.Input((4,))] + [
        keras.layers.Dense(4, kernel_initializer="looks_linear")
        for _ in range(DEPTH)
    ]


@pytest.mark.slow
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


@pytest.mark.slow
def test_build_mlp_builds_and_runs_1100_layers():
    model, _ = build_mlp(6, 3, [4] * DEPTH, "relu", "initializer_for_depth", 0)
    assert len(model.layers) == DEPTH + 1
    y = np.asarray(model(np.ones((2, 6), "float32")))
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    # Looks-linear at 1,100 layers: the signal neither vanished nor blew
    # up, so the softmax is not saturated on one class.
    assert y.max() < 0.99


def test_the_room_never_lowers_the_limit_and_restores_it_on_error():
    before = sys.getrecursionlimit()
    with pytest.raises(KeyError):
        with recursion_room(1):
            assert sys.getrecursionlimit() == max(before, 8 + 2000)
            raise KeyError("inside")
    assert sys.getrecursionlimit() == before


@pytest.mark.parametrize("layers", [-1, 2.5, "1000", True])
def test_the_room_refuses_a_layer_count_that_is_not_an_int(layers):
    with pytest.raises(ValueError, match="Argument `layers` must be an int"):
        with recursion_room(layers):
            pass
