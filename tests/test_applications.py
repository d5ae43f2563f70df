"""Each part of the package on a real architecture: Keras's MobileNet
(alpha 0.25, 32x32 inputs, weights=None), with depthwise and pointwise
convolutions, BatchNormalization and ReLU6."""

import itertools

import keras
import numpy as np
import pytest

import keras_initplus
from tests.helpers import assert_keras_file_loads

KERNEL_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Dense,
)


def _mobilenet():
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNet(
        input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=10
    )


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(0)
    return rng.standard_normal((32, 32, 32, 3)).astype("float32")


def _with_initializer(model, make):
    """`model` rebuilt with `make(i)` as every kernel's initializer."""
    counter = itertools.count()

    def clone(layer):
        config = layer.get_config()
        for key in ("kernel_initializer", "depthwise_initializer"):
            if key in config:
                config[key] = make(next(counter))
        return type(layer).from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


def test_he_avg_fan_on_every_kernel_and_saved(x, tmp_path):
    model = _with_initializer(
        _mobilenet(), lambda i: keras_initplus.HeAvgFanNormal(seed=i)
    )
    checked = 0
    for layer in model.layers:
        if not isinstance(layer, KERNEL_LAYERS):
            continue
        w = np.asarray(layer.kernel).ravel()
        fan_in, fan_out = keras_initplus.compute_fans(layer.kernel.shape)
        var = 4.0 / (fan_in + fan_out)
        if w.size < 2000 or abs(fan_in - fan_out) < 0.5 * fan_in:
            continue
        # Var of the sample variance of a Gaussian: 2 var^2 / n.
        se = var * np.sqrt(2.0 / w.size)
        assert abs(w.var() - var) < 4 * se, layer.name
        # He (fan_in) or LeCun/Glorot variances lie far outside.
        assert abs(w.var() - 2.0 / fan_in) > 8 * se, layer.name
        checked += 1
    assert checked >= 5
    assert_keras_file_loads(model, x[:4], tmp_path)


def test_lsuv_brings_every_kernel_to_unit_variance(x):
    model = _mobilenet()
    report = keras_initplus.lsuv_init(model, x, layers="all", verbose=0)
    kernels = [
        layer.name for layer in model.layers if isinstance(layer, KERNEL_LAYERS)
    ]
    assert sorted(r.name for r in report) == sorted(kernels)
    assert report.all_converged
    # Measured independently: the convolutions have no bias and no fused
    # activation, so their outputs are the pre-activations LSUV scaled.
    for name in ("conv1", "conv_dw_3", "conv_pw_6", "conv_pw_13"):
        sub = keras.Model(model.input, model.get_layer(name).output)
        assert abs(np.var(np.asarray(sub(x))) - 1.0) < 0.1, name


def test_diagnose_reports_every_kernel_with_finite_numbers(x):
    model = _mobilenet()
    report = keras_initplus.diagnose(model, x[:16])
    rows = {row["layer"]: row for row in report.layers}
    for layer in model.layers:
        if isinstance(layer, KERNEL_LAYERS):
            row = rows[layer.name]
            assert np.isfinite(row["post_std"]) and row["post_std"] > 0
            assert np.isfinite(row["grad_norm"]) and row["grad_norm"] > 0
    assert "conv_pw_13_relu" in rows


def test_fit_with_gradient_health_clips_and_names_every_layer(x):
    model = _mobilenet()
    optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer, "sparse_categorical_crossentropy")
    before = [np.asarray(v) for v in model.trainable_variables]
    health = keras_initplus.GradientHealthCallback(clip_norm=1.0)
    history = model.fit(
        x,
        np.arange(len(x)) % 10,
        epochs=1,
        batch_size=16,
        callbacks=[health],
        verbose=0,
    )
    logs = history.history
    # A freshly initialized MobileNet's gradient norm is far above 1, so
    # both steps are clipped.
    assert logs["grad_norm"][0] > 1.0 and logs["grad_clipped"] == [1.0]
    assert logs["grad_nonfinite"] == [0.0]
    trainable = {
        layer.name for layer in model.layers if layer.trainable_weights
    }
    assert set(health.table_dict()["layer"]) == trainable
    after = [np.asarray(v) for v in model.trainable_variables]
    assert all(np.isfinite(a).all() for a in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert model.optimizer is optimizer
