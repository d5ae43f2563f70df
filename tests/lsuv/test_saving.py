"""Models initialized with LSUV save, load and export."""

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, lsuv_init
from tests.helpers import run_fresh

L = keras.layers


def _model():
    inputs = keras.Input((6, 6, 2))
    h = L.Conv2D(4, 3, activation="relu", kernel_initializer=LSUV(seed=1))(
        inputs
    )
    h = L.Flatten()(h)
    h = L.Dense(8, activation="tanh", kernel_initializer="lsuv")(h)
    out = L.Dense(3, kernel_initializer=LSUV())(h)
    return keras.Model(inputs, out)


def _x():
    return np.random.default_rng(0).normal(size=(16, 6, 6, 2)).astype("float32")


@pytest.mark.parametrize("run_lsuv", [False, True])
def test_keras_file_loads_in_a_fresh_process(tmp_path, run_lsuv):
    # Without lsuv_init the model is a plain orthonormal-initialized one,
    # and must save and load just the same.
    model = _model()
    x = _x()
    if run_lsuv:
        lsuv_init(model, x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(model(x)))
    out = run_fresh(
        f"""
        import keras, numpy as np
        import keras_initplus
        m = keras.saving.load_model({path!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        want = np.load({str(tmp_path / "y.npy")!r})
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(m(x)), want)
        inits = [type(l.kernel_initializer).__name__ for l in m.layers
                 if hasattr(l, "kernel_initializer")]
        seeds = [l.kernel_initializer.seed for l in m.layers
                 if hasattr(l, "kernel_initializer")]
        print("OK", inits, seeds)
        # The loaded model can run LSUV again.
        print(keras_initplus.lsuv_init(m, x, verbose=0).all_converged)
        """
    )
    assert (
        "OK ['keras_initplus>LSUV', 'keras_initplus>LSUV', "
        "'keras_initplus>LSUV'] [1, None, None]" in out
    )
    assert out.strip().endswith("True")


@pytest.mark.tensorflow_only
def test_export_saved_model_predicts_identically(tmp_path):
    model = _model()
    x = _x()
    lsuv_init(model, x, verbose=0)
    path = str(tmp_path / "exported")
    model.export(path, verbose=0)
    reloaded = keras.layers.TFSMLayer(path, call_endpoint="serve")
    # Both sides run as a traced graph: eager and graph execution may
    # differ in the last bit (different kernel fusion), which is not
    # what this checks.
    want = model.predict(x, verbose=0)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), want)
    np.testing.assert_allclose(want, np.asarray(model(x)), atol=1e-5)
