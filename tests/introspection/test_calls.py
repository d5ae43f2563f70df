"""Wrapping a layer's call for a block: seen, then put back as it was."""

import keras
import numpy as np
import pytest

from keras_initplus.introspection import wrapped_calls

X = np.ones((2, 3), "float32")


def _recorder(log, tag):
    def make(call):
        def recorded(*args, **kwargs):
            log.append(tag)
            return call(*args, **kwargs)

        return recorded

    return make


def test_the_wrapper_sees_the_call_and_leaves_nothing_behind():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    layer = model.layers[0]
    log = []
    with wrapped_calls([(layer, _recorder(log, "dense"))]):
        model(X)
    assert log == ["dense"]
    assert "call" not in layer.__dict__
    model(X)
    assert log == ["dense"]


def test_a_layer_wrapped_twice_ends_as_it_began():
    layer = keras.layers.Dense(2)
    layer(X)
    log = []
    wrappers = [(layer, _recorder(log, "a")), (layer, _recorder(log, "b"))]
    with wrapped_calls(wrappers):
        layer(X)
    assert log == ["b", "a"]
    assert "call" not in layer.__dict__


def test_a_failing_wrapper_puts_back_those_installed():
    first, second = keras.layers.Dense(2), keras.layers.Dense(2)

    def broken(call):
        raise RuntimeError("no wrapper")

    with pytest.raises(RuntimeError, match="no wrapper"):
        with wrapped_calls([(first, _recorder([], "a")), (second, broken)]):
            pass
    assert "call" not in first.__dict__
    assert "call" not in second.__dict__


def test_an_error_in_the_block_still_restores():
    layer = keras.layers.Dense(2)
    with pytest.raises(ValueError, match="inside"):
        with wrapped_calls([(layer, _recorder([], "a"))]):
            raise ValueError("inside")
    assert "call" not in layer.__dict__
