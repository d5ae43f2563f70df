"""diagnose's flags: silent on healthy models, with advice that fits.

Each healthy model here drew a false flag before issue 22: a softmax
head's output std read as vanishing activations, attention query/key
kernels (whose gradient is small in every block) read as vanishing
gradients, a fresh BatchNormalization's inference mode read as dead
ReLUs, and Glorot advised to a model already using Glorot.
"""

import keras
import numpy as np
import pytest

import keras_initplus
from keras_initplus import lsuv_init

L = keras.layers


def _rng():
    return np.random.default_rng(0)


@pytest.mark.slow
def test_resnet50v2_after_lsuv_says_nothing():
    model = keras.applications.ResNet50V2(
        weights=None, input_shape=(32, 32, 3), classes=10
    )
    x = _rng().uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    lsuv_init(model, x, layers="all", verbose=0)
    report = keras_initplus.diagnose(model, x)
    assert report.flags == [], report.flags
    assert 0.5 < report.std_ratio() < 2


def _pre_ln_stack(blocks, width, init="glorot_uniform"):
    inputs = keras.Input((16, width))
    h = inputs
    for _ in range(blocks):
        a = L.LayerNormalization()(h)
        a = L.MultiHeadAttention(4, width // 4, kernel_initializer=init)(a, a)
        h = L.Add()([h, a])
        f = L.LayerNormalization()(h)
        f = L.Dense(4 * width, activation="gelu", kernel_initializer=init)(f)
        f = L.Dense(width, kernel_initializer=init)(f)
        h = L.Add()([h, f])
    h = L.GlobalAveragePooling1D()(L.LayerNormalization()(h))
    return keras.Model(inputs, L.Dense(10, activation="softmax")(h))


@pytest.mark.parametrize(
    "blocks, width, init",
    [
        (6, 64, "glorot_uniform"),
        # BERT's init: small query and key kernels make the attention
        # nearly uniform, so their gradients are ~1e-3 of the others'
        # in every block; that is not a depth trend.
        (4, 128, keras.initializers.TruncatedNormal(stddev=0.02, seed=1)),
    ],
    ids=["keras-defaults", "bert-init"],
)
def test_pre_ln_transformer_stack_says_nothing(blocks, width, init):
    model = _pre_ln_stack(blocks, width, init)
    x = _rng().standard_normal((32, 16, width)).astype("float32")
    report = keras_initplus.diagnose(model, x)
    assert report.flags == [], report.flags


def test_glorot_tanh_mlp_says_nothing():
    model = keras.Sequential(
        [keras.Input((100,))]
        + [L.Dense(100, activation="tanh") for _ in range(10)]
        + [L.Dense(10, activation="softmax")]
    )
    x = _rng().standard_normal((512, 100)).astype("float32")
    report = keras_initplus.diagnose(model, x)
    assert report.flags == [], report.flags


def test_relu_after_a_fresh_batchnorm_is_not_called_dead():
    # Inputs far from zero: in inference mode a fresh BatchNormalization
    # is the identity and many ReLU units are zero on the whole batch;
    # in training it centres each unit, so none is. Each unit is dead
    # with probability about 1/2; with 256 units the fraction's standard
    # error is 0.03, so the 0.3 limit is over 6 standard errors away.
    x = _rng().normal(10.0, 1.0, (256, 32)).astype("float32")

    def model(batchnorm):
        dense = L.Dense(
            256,
            use_bias=False,
            kernel_initializer=keras.initializers.GlorotNormal(seed=3),
        )
        layers = [keras.Input((32,)), dense]
        layers += [L.BatchNormalization()] if batchnorm else []
        return keras.Sequential(layers + [L.ReLU(), L.Dense(1)])

    plain = keras_initplus.diagnose(model(False), x)
    assert any("dead" in f for f in plain.flags), plain.flags
    normed = keras_initplus.diagnose(model(True), x)
    relu = next(r for r in normed.layers if r["class_name"] == "ReLU")
    assert relu["after_batchnorm"] and relu["dead"] > 0.3
    assert not any("dead" in f for f in normed.flags), normed.flags


def test_large_relu_weights_are_flagged_exploding_with_glorot_advice():
    model = keras.Sequential(
        [keras.Input((100,))]
        + [
            L.Dense(
                50,
                activation="relu",
                kernel_initializer=keras.initializers.RandomNormal(
                    0.0, 1.0, seed=1
                ),
            )
            for _ in range(5)
        ]
    )
    x = _rng().standard_normal((256, 100)).astype("float32")
    report = keras_initplus.diagnose(model, x)
    assert report.std_ratio() > 100
    flag = next(f for f in report.flags if "exploding" in f)
    assert "Glorot" in flag and "LSUV" in flag


def _residual_stack(blocks):
    inputs = keras.Input((64,))
    h = inputs
    for _ in range(blocks):
        f = L.Dense(64, activation="relu")(h)
        h = L.Add()([h, L.Dense(64)(f)])
    return keras.Model(inputs, L.Dense(10, activation="softmax")(h))


def test_growth_in_a_glorot_residual_stack_is_not_told_to_use_glorot():
    x = _rng().standard_normal((256, 64)).astype("float32")
    report = keras_initplus.diagnose(_residual_stack(24), x)
    flag = next(f for f in report.flags if "exploding" in f)
    assert "Glorot" not in flag
    assert "initialize_model" in flag
    # initialize_model zeroes each branch's last kernel: nothing to flag.
    model = _residual_stack(24)
    keras_initplus.initialize_model(model)
    assert keras_initplus.diagnose(model, x).flags == []
