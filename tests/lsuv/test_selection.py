"""Which layers are scaled: the hint when none is, and frozen layers."""

import warnings

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, LSUVCallback, lsuv_init

L = keras.layers


def _x():
    return np.random.default_rng(0).normal(size=(32, 8)).astype("float32")


def _model(marked=True):
    def init(i):
        return LSUV(seed=i) if marked else keras.initializers.Orthogonal(seed=i)

    return keras.Sequential(
        [keras.Input((8,))]
        + [
            L.Dense(
                8, activation="tanh", kernel_initializer=init(i), name=f"d{i}"
            )
            for i in range(3)
        ]
    )


def _kernel(model, name):
    return keras.ops.convert_to_numpy(model.get_layer(name).kernel).copy()


def test_default_layers_with_no_lsuv_initializer_warns_and_says_so():
    model = _model(marked=False)
    before = model.get_weights()
    with pytest.warns(UserWarning, match=r'(?s)no layer.*layers="all"'):
        report = lsuv_init(model, _x(), verbose=0)
    assert len(report) == 0
    assert len(report.notes) == 1
    assert 'layers="all"' in report.notes[0]
    # 3 supported layers that "all" would scale.
    assert "(3 in this model)" in report.notes[0]
    assert str(report).splitlines()[-1] == report.notes[0]
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    # The hint is right: "all" scales them.
    assert lsuv_init(model, _x(), layers="all", verbose=0).all_converged


def test_no_hint_when_something_is_selected():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = lsuv_init(_model(), _x(), verbose=0)
        assert report.notes == []
        assert len(lsuv_init(_model(False), _x(), layers=[], verbose=0)) == 0


@pytest.mark.parametrize("layers", [None, "all"])
def test_frozen_layer_is_left_alone_and_named(layers):
    model = _model()
    model.get_layer("d1").trainable = False
    before = _kernel(model, "d1")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = lsuv_init(model, _x(), layers=layers, verbose=0)
    np.testing.assert_array_equal(_kernel(model, "d1"), before)
    row = report["d1"]
    assert row.status == "skipped"
    assert row.variable == "kernel"
    assert "frozen" in row.note and "include_frozen=True" in row.note
    assert report["d0"].converged and report["d2"].converged
    assert "frozen (trainable=False)" in str(report)


def test_include_frozen_scales_frozen_layers():
    model = _model()
    model.get_layer("d1").trainable = False
    before = _kernel(model, "d1")
    report = lsuv_init(model, _x(), include_frozen=True, verbose=0)
    assert report.all_converged and len(report) == 3
    assert report["d1"].status == "scaled"
    assert not np.array_equal(_kernel(model, "d1"), before)


def test_layers_inside_a_frozen_model_are_frozen():
    base = keras.Sequential(
        [keras.Input((8,))]
        + [
            L.Dense(8, activation="relu", kernel_initializer=LSUV(seed=i))
            for i in range(2)
        ],
        name="base",
    )
    base.trainable = False
    # Set back on the layer, it is still not trained: its parent is not.
    base.layers[0].trainable = True
    inputs = keras.Input((8,))
    outputs = L.Dense(4, kernel_initializer=LSUV(seed=9), name="head")(
        base(inputs)
    )
    model = keras.Model(inputs, outputs)
    before = [keras.ops.convert_to_numpy(w) for w in base.weights]
    report = lsuv_init(model, _x(), verbose=0)
    for w, b in zip(base.weights, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), b)
    assert [r.status for r in report] == ["scaled", "skipped", "skipped"]
    assert report["head"].converged
    assert all("frozen" in r.note for r in report if r.status == "skipped")


def test_frozen_model_is_left_alone():
    model = _model()
    model.trainable = False
    before = model.get_weights()
    report = lsuv_init(model, _x(), verbose=0)
    assert [r.status for r in report] == ["skipped"] * 3
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_frozen_layer_named_in_layers_warns():
    model = _model()
    model.get_layer("d1").trainable = False
    with pytest.warns(UserWarning, match=r"frozen.*\['d1'\].*include_frozen"):
        report = lsuv_init(model, _x(), layers=["d0", "d1"], verbose=0)
    assert report["d1"].status == "skipped"
    assert report["d0"].converged


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_include_frozen_must_be_a_bool(value):
    model = _model()
    before = model.get_weights()
    message = (
        r"Argument `include_frozen` must be True or False. "
        rf"Received: include_frozen={value!r}"
    )
    with pytest.raises(TypeError, match=message):
        lsuv_init(model, _x(), include_frozen=value)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match=message):
        LSUVCallback(_x(), include_frozen=value)


def test_callback_passes_include_frozen():
    model = _model()
    model.get_layer("d1").trainable = False
    for include, status in [(False, "skipped"), (True, "scaled")]:
        callback = LSUVCallback(_x(), include_frozen=include, verbose=0)
        callback.set_model(model)
        callback.on_train_begin()
        assert callback.report["d1"].status == status
