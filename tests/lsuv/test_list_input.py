"""A nested list or tuple is a batch, exactly as its numpy array."""

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, LSUVCallback, lsuv_init
from keras_initplus.validation import check_batch, model_inputs

L = keras.layers


def _x(shape=(32, 8)):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


def _model():
    return keras.Sequential(
        [keras.Input((8,))]
        + [
            L.Dense(16, activation="tanh", kernel_initializer=LSUV(seed=i))
            for i in range(3)
        ]
    )


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x.tolist(),
        lambda x: tuple(tuple(row) for row in x.tolist()),
        lambda x: [list(row) for row in x],  # numpy scalars
    ],
    ids=["list", "tuple", "list_of_numpy_scalars"],
)
def test_nested_list_scales_as_the_array_does(convert):
    x = _x()
    by_array, by_list = _model(), _model()
    expected = lsuv_init(by_array, x, verbose=0)
    report = lsuv_init(by_list, convert(x), verbose=0)
    assert report.all_converged and len(report) == 3
    for a, b in zip(report, expected):
        assert a.var_before == pytest.approx(b.var_before, rel=1e-6)
    for a, b in zip(by_list.get_weights(), by_array.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_integer_list_for_an_integer_input():
    inputs = keras.Input((5,), dtype="int32")
    out = L.Embedding(10, 4, embeddings_initializer=LSUV(seed=0))(inputs)
    model = keras.Model(inputs, out)
    x = np.arange(20).reshape(4, 5) % 10
    assert lsuv_init(model, x.tolist(), verbose=0).all_converged
    # The callback converts once the model, and so its dtype, is known.
    callback = LSUVCallback(x.tolist(), verbose=0)
    callback.set_model(model)
    callback.on_train_begin()
    assert callback.report.all_converged


def test_one_list_per_input_of_a_multi_input_model():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    h = L.Concatenate()([a, b])
    out = L.Dense(4, kernel_initializer=LSUV(seed=0), name="d")(h)
    model = keras.Model([a, b], out)
    xa, xb = _x((16, 3)), _x((16, 2))
    assert lsuv_init(model, [xa.tolist(), xb.tolist()], verbose=0)[
        "d"
    ].converged
    report = lsuv_init(model, {"a": xa.tolist(), "b": xb.tolist()}, verbose=0)
    assert report["d"].converged


def test_list_dtype_follows_the_model_input():
    inputs = keras.Input((2,), dtype="float16")
    model = keras.Model(inputs, L.Dense(2)(inputs))
    refs = model_inputs(model)
    assert check_batch([[1, 2]], refs).dtype == np.float16
    assert check_batch([[1.5, 2]], None).dtype == np.float32
    assert check_batch([[1, 2]], None).dtype == np.float32
    ints = keras.Input((2,), dtype="int32")
    refs = model_inputs(keras.Model(ints, ints))
    assert check_batch([[1, 2]], refs).dtype == np.int32
    # A float list for an integer input is refused, not truncated.
    assert check_batch([[1.5, 2]], refs).dtype.kind == "f"
    # Arrays keep their dtype, as before.
    x = np.ones((2, 2), "float64")
    assert check_batch(x, model_inputs(model)) is x


@pytest.mark.parametrize(
    "x, error, match",
    [
        (
            [[1.0, 2.0], [3.0]],
            ValueError,
            r"Argument `x` must be an array or a nested list/tuple of "
            r"numbers.*same length.*Received: x=list of length 2 that is "
            r"ragged",
        ),
        (
            [["a", "b"] * 4] * 2,
            ValueError,
            r"Argument `x` must hold integers or floats. "
            r"Received: x=list of shape \(2, 8\) and dtype <U1",
        ),
        (
            [[1.0, None] * 4],
            ValueError,
            r"integers or floats.*list of shape \(1, 8\) and dtype object",
        ),
        (
            [],
            ValueError,
            r"Argument `x` must be a non-empty batch.*"
            r"Received: x=list of shape \(0,\) and dtype float32",
        ),
        ([[]], ValueError, r"non-empty batch.*list of shape \(1, 0\)"),
        (
            "abc",
            ValueError,
            r"integers or floats. Received: x=str of shape \(\) and dtype "
            "<U3",
        ),
        (
            [[float("nan")] * 8],
            ValueError,
            r"finite values.*list of shape \(1, 8\) .* 8 non-finite.*8 NaN",
        ),
        (
            [[1.5] * 8],
            None,
            None,
        ),
    ],
    ids=[
        "ragged",
        "strings",
        "none",
        "empty",
        "empty_axis",
        "str",
        "nan",
        "ok",
    ],
)
def test_bad_lists_are_refused_before_any_weight_changes(x, error, match):
    model = _model()
    before = model.get_weights()
    if error is None:  # One row is a batch too.
        assert lsuv_init(model, x, verbose=0).all_converged
        return
    with pytest.raises(error, match=match):
        lsuv_init(model, x, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(error, match=match):
        LSUVCallback(x)


def test_integer_model_refuses_a_float_list():
    inputs = keras.Input((5,), dtype="int32")
    out = L.Embedding(10, 4, embeddings_initializer=LSUV(seed=0))(inputs)
    model = keras.Model(inputs, out)
    with pytest.raises(ValueError, match="must hold integers.*int32"):
        lsuv_init(model, _x((4, 5)).tolist(), verbose=0)
