"""Bad input raises a clear error and leaves every weight bit-identical."""

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, lsuv_init

L = keras.layers


def _model():
    return keras.Sequential(
        [keras.Input((8,))]
        + [
            L.Dense(16, activation="tanh", kernel_initializer=LSUV(seed=i))
            for i in range(3)
        ]
    )


def _x(shape=(32, 8)):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


def _assert_unchanged(model, before):
    after = model.get_weights()
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "x, match",
    [
        (
            np.where(np.eye(32, 8) > 0, np.nan, 1.0).astype("float32"),
            r"`x` must contain only finite values.*shape \(32, 8\).* 8 non-",
        ),
        (np.full((32, 8), np.inf, "float32"), "finite values"),
        (np.zeros((0, 8), "float32"), r"non-empty batch.*\(0, 8\)"),
        (
            np.zeros((32, 7), "float32"),
            r"`x` does not fit model input.*\(None, 8\).*\(32, 7\)",
        ),
        (np.zeros((32, 8, 1), "float32"), r"does not fit.*\(32, 8, 1\)"),
        (np.full((32, 8), "a"), r"`x` must hold integers or floats.*<U1"),
        (np.zeros((32, 8), complex), "integers or floats"),
        (None, "x=None"),
    ],
)
def test_bad_x_leaves_weights_unchanged(x, match):
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        lsuv_init(model, x, verbose=0)
    _assert_unchanged(model, before)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"tol": -1},
            r"Argument `tol` must be a positive finite float. "
            r"Received: tol=-1",
        ),
        ({"target": float("nan")}, r"`target`.*target=nan"),
        ({"max_iter": 0}, r"`max_iter` must be an int >= 1.*=0"),
        ({"verbose": 3}, r"`verbose`.*verbose=3"),
        ({"layers": ["nope"]}, r"`layers`.*'nope'.*dense"),
    ],
)
def test_bad_arguments(kwargs, match):
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        lsuv_init(model, _x(), **kwargs)
    _assert_unchanged(model, before)


def test_bad_types():
    with pytest.raises(TypeError, match="`model` must be a `keras.Model`"):
        lsuv_init(L.Dense(3), _x())
    with pytest.raises(TypeError, match="`layers`"):
        lsuv_init(_model(), _x(), layers=[3])


def test_integer_input_expected():
    inputs = keras.Input((5,), dtype="int32")
    out = L.Embedding(10, 4, embeddings_initializer=LSUV(seed=0))(inputs)
    model = keras.Model(inputs, out)
    before = model.get_weights()
    with pytest.raises(ValueError, match="must hold integers.*int32"):
        lsuv_init(model, _x((4, 5)), verbose=0)
    _assert_unchanged(model, before)


def test_unbuilt_model_that_x_cannot_build():
    model = keras.Sequential(
        [L.Dense(8, kernel_initializer=LSUV(seed=0)), L.Reshape((3, 3))]
    )
    with pytest.raises(ValueError, match=r"could not build.*\(4, 5\)"):
        lsuv_init(model, _x((4, 5)), verbose=0)
    # Nothing was built, so the model still builds from good data.
    assert not model.layers[0].built
    model2 = keras.Sequential(
        [L.Dense(9, kernel_initializer=LSUV(seed=0)), L.Reshape((3, 3))]
    )
    lsuv_init(model2, _x((4, 5)), verbose=0)
    assert model2.built


class _FailsLate(keras.Model):
    """Fails after its first layers have been rescaled."""

    def __init__(self):
        super().__init__()
        self.a = L.Dense(8, activation="tanh", kernel_initializer=LSUV(seed=1))
        self.b = L.Dense(8, kernel_initializer=LSUV(seed=2))

    def call(self, x):
        h = self.b(self.a(x))
        if h.shape[0] is not None and h.shape[0] > 16:
            raise ValueError("batches over 16 are not supported")
        return h


def test_failure_midway_restores_every_weight():
    model = _FailsLate()
    model(_x((4, 8)))
    before = model.get_weights()
    with pytest.raises(ValueError, match="(?s)restored.*over 16"):
        lsuv_init(model, _x((32, 8)), verbose=0)
    _assert_unchanged(model, before)
    # A good batch then works.
    assert lsuv_init(model, _x((16, 8)), verbose=0).all_converged


def test_dead_layer_is_skipped_with_a_warning_naming_it():
    inputs = keras.Input((8,))
    h = L.Dense(
        8,
        activation="relu",
        kernel_initializer=LSUV(seed=0),
        bias_initializer=keras.initializers.Constant(-100.0),
        name="dead",
    )(inputs)
    h = L.Dense(8, kernel_initializer=LSUV(seed=1), name="after_dead")(h)
    out = L.Dense(8, kernel_initializer=LSUV(seed=2), name="fine")(
        L.Concatenate()([h, inputs])
    )
    model = keras.Model(inputs, out)
    before = model.get_weights()
    with pytest.warns(RuntimeWarning, match="'after_dead'.*variance.*zero"):
        report = lsuv_init(model, _x(), verbose=0)
    after = model.get_weights()
    # 'after_dead' sees only zeros: untouched, and finite.
    k = model.get_layer("after_dead").kernel
    np.testing.assert_array_equal(np.asarray(k), before[2])
    assert all(np.all(np.isfinite(w)) for w in after)
    assert report["after_dead"].status == "skipped"
    assert "zero" in report["after_dead"].note
    assert report["fine"].converged


def test_float16_overflow_is_refused_not_written():
    inputs = keras.Input((4,))
    out = L.Dense(
        4, kernel_initializer=LSUV(seed=0), dtype="float16", name="tiny"
    )(inputs)
    model = keras.Model(inputs, out)
    x = np.full((8, 4), 1e-7, "float32") * np.arange(1, 5, dtype="float32")
    x = x + np.arange(8, dtype="float32")[:, None] * 1e-7
    before = model.get_weights()
    with pytest.warns(RuntimeWarning, match="'tiny'.*non-finite in float16"):
        report = lsuv_init(model, x, verbose=0)
    _assert_unchanged(model, before)
    assert report["tiny"].status == "skipped"
