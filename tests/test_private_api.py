"""The private Keras attributes the package uses: listed, present, and
a clear error when one goes missing."""

import pathlib
import re

import keras
import pytest

from keras_initplus import private_api

PACKAGE = pathlib.Path(private_api.__file__).parent
# `obj._name` on anything but self/cls, and getattr(obj, "_name", ...).
_ATTRIBUTE = re.compile(r"\b(?!self\b|cls\b)([a-z_]\w*)\.(_[a-z]\w*)\b")
_GETATTR = re.compile(r"getattr\(\s*\w+,\s*\"(_[a-z]\w*)\"")
_KERAS_SRC = re.compile(r"from keras\.src\.([\w.]+) import (\w+)")
# TensorFlow internals, listed by their path under `tf`.
_TF_INTERNAL = re.compile(r"\btf\.(__internal__(?:\.\w+)+)")
# A Keras model's method replaced on the instance.
_MODEL_OVERRIDE = re.compile(r"__setattr__\(\s*model,\s*\"(\w+)\"")
# What a Callback subclass reads of its base's private state.
_CALLBACK_PRIVATE = re.compile(r"\bself\.(_model)\b")


def _used_in_source():
    used = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "private_api.py":
            continue
        text = path.read_text()
        for owner, name in _ATTRIBUTE.findall(text):
            if owner not in ("keras_initplus", "_startup"):
                used.add(name)
        used.update(_GETATTR.findall(text))
        used.update(name for _, name in _KERAS_SRC.findall(text))
        used.update(_TF_INTERNAL.findall(text))
        used.update(_MODEL_OVERRIDE.findall(text))
        if "(keras.callbacks.Callback)" in text:
            used.update(_CALLBACK_PRIVATE.findall(text))
    return used


def test_every_private_attribute_used_is_listed():
    listed = {
        entry.name
        for entry in private_api.PRIVATE_API + private_api.KERAS_HUB_PRIVATE_API
    }
    unlisted = _used_in_source() - listed
    assert not unlisted, (
        f"private attributes used but not in private_api.py: {unlisted}"
    )


def test_every_listed_attribute_exists_in_this_keras():
    checked = private_api.check()
    backend = keras.backend.backend()
    expected = [
        e
        for e in private_api.PRIVATE_API
        if private_api.BACKEND_OF.get(e.owner, backend) == backend
    ]
    assert checked == expected


def test_the_jax_trainer_jits_the_instance_train_step():
    # The callback's instance `train_step` takes effect only because
    # JAX's make_train_function reads the attribute at that time.
    if keras.backend.backend() != "jax":
        pytest.skip("JAX's trainer only")
    import inspect

    from keras.src.backend.jax import trainer

    source = inspect.getsource(trainer.JAXTrainer.make_train_function)
    assert "self.train_step" in source


def _remove(monkeypatch, obj, name):
    # From every class that defines it, as a Keras without it would be.
    for cls in type(obj).__mro__:
        if name in vars(cls):
            monkeypatch.delattr(cls, name)
    assert not hasattr(obj, name)


@pytest.mark.tensorflow_only
def test_optimizer_without_it_fails_with_its_name(monkeypatch):
    # What a Keras release that renamed the update step would look like.
    from keras_initplus.gradients import GradientHealth, GradientHealthOptimizer

    sgd = keras.optimizers.SGD(0.1)
    _remove(monkeypatch, sgd, "_backend_update_step")
    with pytest.raises(RuntimeError) as info:
        GradientHealthOptimizer(sgd, GradientHealth(clip_norm=1.0))
    message = str(info.value)
    assert "`_backend_update_step`" in message
    assert "gradients/optimizer.py" in message
    assert keras.version() in message


def test_check_names_a_missing_layer_attribute(monkeypatch):
    layer = keras.layers.Dense(2)
    _remove(monkeypatch, layer, "_flatten_layers")
    with pytest.raises(RuntimeError, match="`_flatten_layers` of keras"):
        private_api.check()
