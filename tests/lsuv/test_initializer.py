import keras
import numpy as np
import pytest

import keras_initplus
from keras_initplus import LSUV
from tests.helpers import assert_config_roundtrip


@pytest.mark.parametrize("shape", [(64, 32), (32, 32), (3, 3, 8, 16)])
def test_columns_are_orthonormal(shape):
    w = np.asarray(LSUV(seed=1)(shape), np.float64)
    m = w.reshape(-1, shape[-1])
    np.testing.assert_allclose(m.T @ m, np.eye(shape[-1]), atol=1e-5)


def test_rows_are_orthonormal_when_wide():
    w = np.asarray(LSUV(seed=2)((16, 48)), np.float64)
    np.testing.assert_allclose(w @ w.T, np.eye(16), atol=1e-5)


def test_int_seed_is_deterministic_and_none_is_fresh():
    a = np.asarray(LSUV(seed=5)((20, 10)))
    b = np.asarray(LSUV(seed=5)((20, 10)))
    np.testing.assert_array_equal(a, b)
    fresh = LSUV()
    assert not np.array_equal(
        np.asarray(fresh((20, 10))), np.asarray(fresh((20, 10)))
    )


@pytest.mark.float64
def test_float64():
    w = LSUV(seed=0)((16, 8), dtype="float64")
    assert keras.backend.standardize_dtype(w.dtype) == "float64"


def test_bfloat16():
    w = LSUV(seed=0)((16, 8), dtype="bfloat16")
    assert keras.backend.standardize_dtype(w.dtype) == "bfloat16"


def test_bad_arguments():
    with pytest.raises(ValueError, match="seed=-1"):
        LSUV(seed=-1)
    with pytest.raises(ValueError, match="rank"):
        LSUV(seed=0)((8,))
    with pytest.raises(ValueError, match="dtype"):
        LSUV(seed=0)((8, 8), dtype="int32")


def test_config_roundtrip():
    restored = assert_config_roundtrip(LSUV(seed=7))
    assert restored.get_config() == {"seed": 7}
    assert_config_roundtrip(LSUV())


def test_string_id_and_model_without_lsuv_init():
    # The initializer alone gives a complete, trainable model.
    layer = keras.layers.Dense(8, kernel_initializer="lsuv")
    assert isinstance(layer.kernel_initializer, LSUV)
    model = keras.Sequential([keras.Input((4,)), layer])
    model.compile("sgd", "mse")
    x = np.ones((4, 4), "float32")
    loss = model.fit(x, np.zeros((4, 8)), epochs=1, verbose=0)
    assert np.isfinite(loss.history["loss"][0])
    assert keras_initplus.LSUV is LSUV
