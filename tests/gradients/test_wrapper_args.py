"""What `GradientHealthOptimizer` is handed: a clear error at
construction for what it cannot use, and `GradientHealth`'s arguments
as keywords instead of a `GradientHealth`."""

import logging
import re

import keras
import numpy as np
import pytest

from keras_initplus import private_api
from keras_initplus.gradients import (
    AutoClip,
    GradientHealth,
    GradientHealthCallback,
    GradientHealthOptimizer,
)
from tests.gradients.common import data, mlp
from tests.helpers import assert_config_roundtrip


@pytest.mark.parametrize(
    "inner, received",
    [
        ("adam", "Received: inner_optimizer='adam'"),
        (None, "Received: inner_optimizer=None"),
        (0.01, "Received: inner_optimizer=0.01"),
    ],
)
def test_inner_optimizer_must_be_an_optimizer(inner, received):
    with pytest.raises(ValueError) as info:
        GradientHealthOptimizer(inner, GradientHealth(1.0))
    message = str(info.value)
    assert "`inner_optimizer` must be a `keras.optimizers.Optimizer`" in (
        message
    )
    assert received in message
    # Not blamed on the installed Keras, as it was on TensorFlow.
    assert "private Keras attribute" not in message


def test_a_string_optimizer_is_told_how_to_make_one():
    with pytest.raises(ValueError, match=re.escape("optimizers.get('adam')")):
        GradientHealthOptimizer("adam", clip_norm=1.0)


def test_the_wrapper_is_not_wrapped_again():
    inner = GradientHealthOptimizer(keras.optimizers.SGD(0.1))
    with pytest.raises(ValueError, match="must not be a GradientHealthOpt"):
        GradientHealthOptimizer(inner)


@pytest.mark.parametrize("health", [1.0, 2, "autoclip"])
def test_a_threshold_in_place_of_health_names_clip_norm(health):
    with pytest.raises(ValueError) as info:
        GradientHealthOptimizer(keras.optimizers.Adam(), health)
    message = str(info.value)
    assert "`health` must be a `GradientHealth` instance" in message
    assert f"Received: health={health!r}" in message
    assert f"clip_norm={health!r}" in message


def test_other_health_values_get_no_clip_norm_hint():
    with pytest.raises(ValueError) as info:
        GradientHealthOptimizer(keras.optimizers.Adam(), AutoClip())
    assert "Received: health=AutoClip(" in str(info.value)
    assert "pass it by keyword" not in str(info.value)


def test_private_attributes_are_checked_only_on_an_optimizer():
    with pytest.raises(TypeError, match=re.escape("Received: 'adam' (a str)")):
        private_api.check_attributes("adam", private_api.OPTIMIZER)


def test_health_arguments_as_keywords():
    opt = GradientHealthOptimizer(
        keras.optimizers.Adam(name="a"), clip_norm=1.0, clip_mode="layer"
    )
    assert isinstance(opt.health, GradientHealth)
    assert opt.health.clip_norm == 1.0
    assert opt.health.clip_mode == "layer"
    explicit = GradientHealthOptimizer(
        keras.optimizers.Adam(name="a"), GradientHealth(1.0, clip_mode="layer")
    )
    assert opt.get_config() == explicit.get_config()
    restored = assert_config_roundtrip(opt)
    assert restored.health.clip_mode == "layer"


def test_every_health_keyword_is_accepted():
    opt = GradientHealthOptimizer(
        keras.optimizers.SGD(0.1),
        clip_norm="zclip",
        vanishing_threshold=0.05,
        vanishing_fraction=0.25,
        explode_ratio=10.0,
        explode_update=2.0,
        explode_factor=5.0,
        explode_norm=9.0,
        warmup_steps=3,
        name="wrapped",
    )
    config = opt.health.get_config()
    assert config["vanishing_fraction"] == 0.25
    assert config["explode_norm"] == 9.0
    assert config["warmup_steps"] == 3
    assert opt.name == "wrapped"


def test_no_health_and_no_keywords_monitors_without_clipping():
    assert GradientHealthOptimizer(keras.optimizers.SGD()).health.clip_norm is (
        None
    )


def test_health_and_keywords_together_is_an_error():
    with pytest.raises(ValueError) as info:
        GradientHealthOptimizer(
            keras.optimizers.Adam(), GradientHealth(0.5), clip_norm=1.0
        )
    message = str(info.value)
    assert "not both" in message
    assert "health=GradientHealth(clip_norm=0.5" in message
    assert "clip_norm=1.0" in message


def test_an_unknown_keyword_lists_the_known_ones():
    with pytest.raises(TypeError) as info:
        GradientHealthOptimizer(keras.optimizers.Adam(), clipnorm=1.0)
    message = str(info.value)
    assert "['clipnorm']" in message
    assert "clip_norm, clip_mode" in message


def test_bad_keyword_values_fail_as_in_gradient_health():
    with pytest.raises(ValueError, match=re.escape("Received: clip_norm=-1")):
        GradientHealthOptimizer(keras.optimizers.Adam(), clip_norm=-1)


def test_keyword_wrapper_clips_in_fit():
    x, y = data(64)
    opt = GradientHealthOptimizer(keras.optimizers.SGD(0.01), clip_norm=1e-3)
    model = mlp(opt)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    scalars = opt.health.stats().scalars
    assert scalars.steps == 4  # finite steps
    assert scalars.clipped == 4  # every one clipped
    assert np.isfinite(model.get_weights()[0]).all()


def test_the_callback_warns_from_a_compiled_wrapper(caplog):
    # The same judge, reading the compiled wrapper's state: the deep
    # sigmoid network's early layers are named, as with the callback's
    # own wrapper (tests/gradients/test_detection.py).
    from tests.gradients.test_detection import LOGGER, deep_sigmoid, xy

    x, y = xy()
    model = deep_sigmoid()
    opt = GradientHealthOptimizer(model.optimizer)
    model.compile(opt, "binary_crossentropy")
    callback = GradientHealthCallback()
    with caplog.at_level(logging.WARNING, LOGGER):
        model.fit(
            x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback]
        )
    [vanishing] = [w for w in callback.warnings if w["kind"] == "vanishing"]
    assert "deep/d0" in vanishing["layers"]
    assert "deep/head" not in vanishing["layers"]
    assert model.optimizer is opt
    # Nothing to restore: the user's compiled step stays.
    assert model.train_function is not None
