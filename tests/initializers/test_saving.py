import json

import keras
import numpy as np
import pytest

import keras_initplus
from tests.helpers import assert_keras_file_loads, run_fresh


def _model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(
        8,
        3,
        activation="tanh",
        kernel_initializer=keras_initplus.DeltaOrthogonal("tanh", seed=1),
    )(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(
        32,
        activation="relu",
        kernel_initializer=keras_initplus.HeAvgFanNormal(seed=2),
    )(x)
    x = keras.layers.Dense(
        32, activation="relu", kernel_initializer="he_avg_fan_uniform"
    )(x)
    x = keras.layers.Dense(
        16,
        activation="tanh",
        kernel_initializer=keras_initplus.Orthogonal(gain="tanh", seed=3),
    )(x)
    x = keras.layers.Dense(
        8,
        activation="selu",
        kernel_initializer=keras_initplus.initializer_for("selu", seed=4),
    )(x)
    outputs = keras.layers.Dense(
        2, kernel_initializer=keras_initplus.Orthogonal(1.3, seed=None)
    )(x)
    return keras.Model(inputs, outputs)


def test_keras_file_loads_in_a_fresh_process(tmp_path):
    model = _model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.savez(tmp_path / "w.npz", *model.get_weights())
    (tmp_path / "config.json").write_text(json.dumps(model.get_config()))
    out = run_fresh(
        f"""
        import json, keras, numpy as np
        import keras_initplus
        m = keras.saving.load_model({path!r})
        want = np.load({str(tmp_path / "w.npz")!r})
        got = m.get_weights()
        assert len(got) == len(want.files)
        for i, w in enumerate(got):
            np.testing.assert_array_equal(w, want[f"arr_{{i}}"])
        cfg = json.load(open({str(tmp_path / "config.json")!r}))
        assert json.dumps(m.get_config(), sort_keys=True) == json.dumps(
            cfg, sort_keys=True)
        kinds = sorted({{
            type(layer.kernel_initializer).__name__
            for layer in m.layers if hasattr(layer, "kernel_initializer")
        }})
        print("OK", kinds)
        """
    )
    assert "OK" in out
    for name in [
        "DeltaOrthogonal",
        "HeAvgFanNormal",
        "HeAvgFanUniform",
        "Orthogonal",
        "VarianceScaling",
    ]:
        assert f"'keras_initplus>{name}'" in out


def test_loading_without_the_import_fails_naming_the_package(tmp_path):
    # Our Orthogonal and VarianceScaling share their names with Keras's;
    # without the package Keras must not quietly load its own class.
    # One fresh process tries each file (a process costs seconds).
    inits = [
        keras_initplus.Orthogonal(gain="gelu"),
        keras_initplus.initializer_for("gelu", depth=4),
        keras_initplus.HeAvgFanNormal(),
    ]
    paths = []
    for i, init in enumerate(inits):
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(3, kernel_initializer=init)]
        )
        paths.append(str(tmp_path / f"m{i}.keras"))
        model.save(paths[-1])
    out = run_fresh(
        f"""
        import keras
        for path in {paths!r}:
            try:
                m = keras.saving.load_model(path)
            except Exception as e:
                print("FAILED", str(e).replace(chr(10), " "))
            else:
                print("LOADED", type(m.layers[0].kernel_initializer))
        """
    )
    lines = out.strip().splitlines()
    assert len(lines) == len(inits), out
    for line in lines:
        assert line.startswith("FAILED"), line
        assert "keras_initplus>" in line and "'module': 'keras_initplus." in (
            line
        )


def test_attention_model_saves_and_loads_with_its_axes(tmp_path):
    inputs = keras.Input((5, 32))
    x = keras.layers.MultiHeadAttention(
        4, 8, kernel_initializer=keras_initplus.HeAvgFanNormal(seed=1)
    )(inputs, inputs)
    x = keras.layers.EinsumDense(
        "abc,cd->abd",
        (None, 16),
        kernel_initializer=keras_initplus.Orthogonal("relu", seed=2),
    )(x)
    model = keras.Model(inputs, x)
    x = np.random.default_rng(0).standard_normal((2, 5, 32)).astype("float32")
    assert_keras_file_loads(model, x, tmp_path)


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras exports SavedModel from TensorFlow and JAX, not PyTorch",
)
def test_savedmodel_export_reloads_and_predicts(tmp_path):
    model = _model()
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 3))
    x = x.astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(model(x)))
    export = str(tmp_path / "exported")
    model.export(export, verbose=False)
    out = run_fresh(
        f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({export!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        y = np.asarray(loaded.serve(x))
        np.testing.assert_allclose(
            y, np.load({str(tmp_path / "y.npy")!r}), rtol=1e-5, atol=1e-6)
        print("OK")
        """
    )
    assert "OK" in out
