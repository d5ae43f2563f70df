import sys

import keras
import numpy as np
import pytest

import keras_initplus

X = np.random.default_rng(0).standard_normal((1000, 100)).astype("float32")


def _classic(init, activation="tanh"):
    return keras.Sequential(
        [keras.Input((100,))]
        + [
            keras.layers.Dense(
                50, activation=activation, kernel_initializer=init
            )
            for _ in range(5)
        ]
    )


def test_small_weights_are_flagged_vanishing():
    model = _classic(keras.initializers.RandomNormal(0.0, 0.01, seed=1))
    report = keras_initplus.diagnose(model, X)
    assert report.std_ratio() < 1e-3
    assert any("vanishing" in f for f in report.flags), report.flags
    assert not any("saturated" in f for f in report.flags)


def test_large_weights_are_flagged_saturated():
    model = _classic(keras.initializers.RandomNormal(0.0, 1.0, seed=1))
    report = keras_initplus.diagnose(model, X)
    assert all(row["saturated"] > 0.5 for row in report.layers)
    assert any("saturated" in f for f in report.flags), report.flags
    assert not any("vanishing" in f for f in report.flags)


@pytest.mark.parametrize(
    "init,activation",
    [
        (keras.initializers.GlorotUniform(seed=2), "tanh"),
        (keras_initplus.HeAvgFanNormal(seed=2), "relu"),
    ],
)
def test_matched_initializers_keep_the_signal(init, activation):
    report = keras_initplus.diagnose(_classic(init, activation), X)
    assert 0.3 <= report.std_ratio() <= 3
    assert not any("vanishing" in f or "exploding" in f for f in report.flags)


def test_pre_activation_and_dead_units_are_measured_exactly():
    dense = keras.layers.Dense(
        4,
        activation="relu",
        kernel_initializer="ones",
        bias_initializer="zeros",
    )
    model = keras.Sequential([keras.Input((3,)), dense])
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, -1.0]], "float32")
    report = keras_initplus.diagnose(model, x)
    row = report.layers[0]
    pre = np.array([6.0, -2.0])
    assert row["pre_std"] == pytest.approx(pre.std())
    assert row["post_mean"] == pytest.approx(3.0)
    assert row["dead"] == 0.0
    dense.bias.assign(-10 * np.ones(4))
    assert keras_initplus.diagnose(model, x).layers[0]["dead"] == 1.0


class _Block(keras.Model):
    def __init__(self):
        super().__init__()
        self.a = keras.layers.Dense(16, activation="tanh")
        self.b = keras.layers.Dense(16)
        self.act = keras.layers.Activation("sigmoid")

    def call(self, x):
        return self.act(self.b(self.a(x)))


def test_subclassed_and_nested_models_are_walked_in_call_order():
    inner = _Block()
    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(3)(inner(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).standard_normal((64, 8)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    report = keras_initplus.diagnose(model, x)
    acts = [row["activation"] for row in report.layers]
    assert acts == ["tanh", "linear", "sigmoid", "linear"]
    assert all(
        row["grad_norm"]
        for row in report.layers
        if row["activation"] != "sigmoid"
    )
    # Weights untouched, call methods restored.
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "call" not in inner.a.__dict__
    np.testing.assert_allclose(
        model(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_compiled_loss_is_used_with_y():
    model = _classic(keras.initializers.GlorotUniform(seed=3))
    model.compile(loss="mse")
    y = np.zeros((1000, 50), "float32")
    report = keras_initplus.diagnose(model, X, y)
    assert report.loss == "compiled"
    proxy = keras_initplus.diagnose(model, X)
    assert proxy.loss == "proxy"
    assert report.layers[0]["grad_norm"] != proxy.layers[0]["grad_norm"]


def test_bad_inputs():
    model = _classic("glorot_uniform")
    with pytest.raises(ValueError, match="`x` must contain only finite.*1 NaN"):
        bad = X.copy()
        bad[0, 0] = np.nan
        keras_initplus.diagnose(model, bad)
    with pytest.raises(ValueError, match="`x` must be a non-empty batch"):
        keras_initplus.diagnose(model, X[:0])
    with pytest.raises(ValueError, match="`y` needs a compiled loss"):
        keras_initplus.diagnose(model, X, np.zeros((1000, 50)))


def test_report_dict_table_and_plot(tmp_path):
    report = keras_initplus.diagnose(
        _classic(keras.initializers.RandomNormal(0.0, 0.01, seed=1)), X
    )
    d = report.to_dict()
    assert d["layers"]["post_std"] == [r["post_std"] for r in report.layers]
    assert d["flags"] == report.flags
    text = str(report)
    assert "vanishing" in text and report.layers[0]["layer"] in text
    path = report.plot(str(tmp_path / "d.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    report = keras_initplus.diagnose(_classic("glorot_uniform"), X[:32])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"keras-initplus\[plots\]"):
        report.plot(str(tmp_path / "x.png"))


@pytest.mark.parametrize(
    "convert",
    [lambda x: x.tolist(), lambda x: tuple(map(tuple, x.tolist()))],
    ids=["list", "tuple"],
)
def test_nested_list_is_diagnosed_as_its_array(convert):
    model = _classic(keras.initializers.GlorotUniform(seed=3))
    x = X[:64]
    expected = keras_initplus.diagnose(model, x)
    report = keras_initplus.diagnose(model, convert(x))
    for a, b in zip(report.layers, expected.layers):
        for key in ("pre_std", "post_std", "grad_norm"):
            assert a[key] == pytest.approx(b[key], rel=1e-5), key
    assert report.flags == expected.flags


@pytest.mark.parametrize(
    "x, error, match",
    [
        (
            [[1.0] * 100, [1.0] * 99],
            ValueError,
            r"`x`.*same length.*list of length 2 that is ragged",
        ),
        (
            [["a"] * 100] * 4,
            ValueError,
            r"Argument `x` must hold integers or floats. "
            r"Received: x=list of shape \(4, 100\) and dtype <U1",
        ),
        ([], ValueError, r"`x` must be a non-empty batch.*list of shape \(0,"),
        ([[np.inf] * 100], ValueError, r"`x` must contain only finite"),
        (None, ValueError, r"`x`.*Received: x=None"),
    ],
    ids=["ragged", "strings", "empty", "inf", "none"],
)
def test_bad_x_is_refused_naming_it(x, error, match):
    model = _classic(keras.initializers.GlorotUniform(seed=3))
    with pytest.raises(error, match=match):
        keras_initplus.diagnose(model, x)


def test_integer_list_for_an_integer_input():
    inputs = keras.Input((5,), dtype="int32")
    h = keras.layers.Embedding(10, 4)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="relu")(h))
    x = (np.arange(20).reshape(4, 5) % 10).tolist()
    report = keras_initplus.diagnose(model, x)
    assert [row["layer"] for row in report.layers][-1] == model.layers[-1].name
