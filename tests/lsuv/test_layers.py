"""Every supported layer type reaches the target; others are skipped."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_initplus import LSUV, lsuv_init
from tests.lsuv.measure import assert_on_target, conv_preact, layer_input

L = keras.layers


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _bias(out, layer):
    if getattr(layer, "use_bias", False) and layer.bias is not None:
        out = out + np.asarray(layer.bias, np.float64)
    return out


def test_image_layers():
    inputs = keras.Input((12, 12, 4))
    h = L.DepthwiseConv2D(
        3,
        depth_multiplier=2,
        activation="relu",
        depthwise_initializer=LSUV(seed=1),
        name="dw",
    )(inputs)
    h = L.SeparableConv2D(
        8,
        3,
        padding="same",
        activation="tanh",
        depthwise_initializer=LSUV(seed=2),
        pointwise_initializer=LSUV(seed=3),
        name="sep",
    )(h)
    h = L.Conv2DTranspose(
        6,
        3,
        strides=2,
        activation="relu",
        kernel_initializer=LSUV(seed=4),
        name="tconv",
    )(h)
    model = keras.Model(inputs, h)
    x = _x((16, 12, 12, 4))
    report = lsuv_init(model, x, verbose=0)
    assert [r.variable for r in report] == [
        "kernel",
        "pointwise_kernel",
        "kernel",
    ]
    dw, sep, tconv = (model.get_layer(n) for n in ("dw", "sep", "tconv"))
    v = {}
    out = ops.depthwise_conv(
        layer_input(model, dw, x),
        dw.kernel,
        strides=dw.strides,
        padding=dw.padding,
        dilation_rate=dw.dilation_rate,
    )
    v["dw"] = np.var(_bias(np.asarray(out, np.float64), dw))
    out = ops.separable_conv(
        layer_input(model, sep, x),
        sep.depthwise_kernel,
        sep.pointwise_kernel,
        strides=sep.strides,
        padding=sep.padding,
        dilation_rate=sep.dilation_rate,
    )
    v["sep"] = np.var(_bias(np.asarray(out, np.float64), sep))
    out = ops.conv_transpose(
        layer_input(model, tconv, x),
        tconv.kernel,
        strides=tconv.strides,
        padding=tconv.padding,
    )
    v["tconv"] = np.var(_bias(np.asarray(out, np.float64), tconv))
    assert_on_target({k: float(val) for k, val in v.items()})


def test_conv1d_conv3d_einsum_dense():
    inputs = keras.Input((10, 3))
    h = L.Conv1D(
        5, 3, activation="relu", kernel_initializer=LSUV(seed=1), name="c1"
    )(inputs)
    h = L.Reshape((2, 2, 2, 5))(h)
    h = L.Conv3D(
        4,
        2,
        padding="same",
        activation="tanh",
        kernel_initializer=LSUV(seed=2),
        name="c3",
    )(h)
    h = L.Flatten()(h)
    out = L.EinsumDense(
        "ab,bc->ac",
        output_shape=7,
        bias_axes="c",
        activation="relu",
        kernel_initializer=LSUV(seed=3),
        name="ein",
    )(h)
    model = keras.Model(inputs, out)
    x = _x((32, 10, 3), seed=1)
    lsuv_init(model, x, verbose=0)
    v = {}
    for name in ("c1", "c3"):
        layer = model.get_layer(name)
        v[name] = float(
            np.var(conv_preact(layer_input(model, layer, x), layer))
        )
    ein = model.get_layer("ein")
    pre = np.einsum(
        "ab,bc->ac", layer_input(model, ein, x), np.asarray(ein.kernel)
    ) + np.asarray(ein.bias)
    v["ein"] = float(np.var(pre))
    assert_on_target(v)


def test_embedding_and_recurrent_input_kernels():
    inputs = keras.Input((9,), dtype="int32")
    h = L.Embedding(50, 16, embeddings_initializer=LSUV(seed=1), name="emb")(
        inputs
    )
    h = L.LSTM(
        12, return_sequences=True, kernel_initializer=LSUV(seed=2), name="lstm"
    )(h)
    out = L.GRU(
        8,
        kernel_initializer=LSUV(seed=3),
        recurrent_initializer=LSUV(seed=4),
        name="gru",
    )(h)
    model = keras.Model(inputs, out)
    x = np.random.default_rng(2).integers(0, 50, size=(32, 9))
    report = lsuv_init(model, x, verbose=0)
    assert [r.variable for r in report] == [
        "embeddings",
        "cell.kernel",
        "cell.kernel",
    ]
    emb = model.get_layer("emb")
    v = {"emb": float(np.var(np.take(np.asarray(emb.embeddings), x, 0)))}
    recurrent_before = np.asarray(model.get_layer("gru").cell.recurrent_kernel)
    for name in ("lstm", "gru"):
        layer = model.get_layer(name)
        h = layer_input(model, layer, x)
        v[name] = float(np.var(h @ np.asarray(layer.cell.kernel)))
    assert_on_target(v)
    # The recurrent kernel is left orthonormal (rows: W W^T = I).
    r = np.asarray(model.get_layer("gru").cell.recurrent_kernel, np.float64)
    np.testing.assert_allclose(r @ r.T, np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(
        recurrent_before,
        np.asarray(model.get_layer("gru").cell.recurrent_kernel),
    )


@keras.saving.register_keras_serializable(package="tests_lsuv")
class _Scale(L.Layer):
    def __init__(self, kernel_initializer, **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape):
        self.kernel = self.add_weight(
            (input_shape[-1], input_shape[-1]),
            initializer=self.kernel_initializer,
        )

    def call(self, x):
        return x @ self.kernel


def _mixed_model():
    inputs = keras.Input((8,))
    h = L.Dense(8, kernel_initializer=LSUV(seed=1), name="d1")(inputs)
    h = _Scale(LSUV(seed=2), name="custom")(h)
    h = L.Dense(8, kernel_initializer="glorot_uniform", name="plain")(h)
    h = L.BatchNormalization(name="bn")(
        L.Dense(8, kernel_initializer=LSUV(seed=3), name="d2")(h)
    )
    return keras.Model(inputs, h)


def test_unsupported_layer_is_skipped_with_one_message():
    model = _mixed_model()
    custom_before = np.asarray(model.get_layer("custom").kernel)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = lsuv_init(model, _x((64, 8)), verbose=0)
    messages = [str(w.message) for w in caught if "LSUV" in str(w.message)]
    assert len(messages) == 1
    assert "'custom' (_Scale)" in messages[0]
    assert "Supported layers: Dense" in messages[0]
    np.testing.assert_array_equal(
        custom_before, np.asarray(model.get_layer("custom").kernel)
    )
    assert report["custom"].status == "skipped"
    # Default targets: only the LSUV layers, not 'plain'.
    assert [r.name for r in report] == ["d1", "d2", "custom"]


def test_batchnorm_is_noted_in_the_report():
    model = _mixed_model()
    report = lsuv_init(model, _x((64, 8)), verbose=0)
    assert "'bn' (BatchNorm) follows" in report["d2"].note
    assert report["d1"].note == ""
    assert "BatchNorm" in str(report)


def test_layers_argument_all_and_names():
    x = _x((64, 8))
    model = _mixed_model()
    before = np.asarray(model.get_layer("d1").kernel)
    report = lsuv_init(model, x, layers=["plain"], verbose=0)
    assert [r.name for r in report] == ["plain"]
    np.testing.assert_array_equal(before, model.get_layer("d1").kernel)
    model = _mixed_model()
    with pytest.warns(RuntimeWarning, match="'custom'"):
        report = lsuv_init(model, x, layers="all", verbose=0)
    assert sorted(r.name for r in report) == ["custom", "d1", "d2", "plain"]


def test_layer_not_called_is_reported():
    inputs = keras.Input((4,))
    used = L.Dense(4, kernel_initializer=LSUV(seed=0), name="used")
    unused = L.Dense(4, kernel_initializer=LSUV(seed=1), name="unused")

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.used, self.unused = used, unused

        def call(self, x):
            return self.used(x)

    model = M()
    model(_x((2, 4)))
    unused.build((None, 4))
    report = lsuv_init(model, _x((16, 4)), verbose=0)
    assert report["unused"].status == "skipped"
    assert "not called" in report["unused"].note
    del inputs
